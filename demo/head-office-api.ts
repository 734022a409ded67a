// Head office's API as the demo's callers use it, and the shapes of the answers the day reads.
import type { Role } from '../host/api/index.js';
import type { FloatFigure, OpenDayView, StatementView } from '../projections/index.js';
import { StepFailure } from './narrator.js';

/** Head office's API as the bank's feed, a clerk, an operator or an auditor calls it: each with its own token. */
export class HeadOfficeApi {
  constructor(
    readonly url: string,
    private readonly logFile: string,
    private readonly tokens: ReadonlyMap<Role, string>,
  ) {}

  /** The same callers, with the same tokens, at another head-office instance. */
  at(url: string, logFile: string): HeadOfficeApi {
    return new HeadOfficeApi(url, logFile, this.tokens);
  }

  token(role: Role): string {
    const token = this.tokens.get(role);
    if (!token) throw new Error(`the demo holds no ${role} token`);
    return token;
  }

  async call<T>(role: Role, method: string, path: string, body?: unknown, expected = [200, 201]): Promise<T> {
    let response: Response;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token(role)}` };
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        ...(body === undefined ? { headers } : { headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new StepFailure(`head office's API at ${this.url} cannot be reached: ${(error as Error).message}`, this.logFile);
    }
    const text = await response.text();
    if (!expected.includes(response.status)) throw new StepFailure(`${method} ${path} answered ${response.status}: ${text}`, this.logFile);
    return JSON.parse(text) as T;
  }

  /** The resource, or undefined while head office answers 404. */
  async find<T>(role: Role, path: string): Promise<T | undefined> {
    const found = await this.call<T | { error: string }>(role, 'GET', path, undefined, [200, 404]);
    return (found as { error?: string }).error === 'not_found' ? undefined : (found as T);
  }
}

/** GET /v1/stores/:storeId/settlements. */
export interface Settlements {
  statements: StatementView[];
  owedTotal: number;
  open: OpenDayView;
}

/** GET /v1/float. */
export interface FloatReport {
  asOf: string;
  byEventTime: FloatFigure;
  byKnowledgeTime: FloatFigure;
}
