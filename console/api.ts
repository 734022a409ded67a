// The console talks to head office's API over HTTP only, with the signed-in caller's bearer token:
// the API decides what each role may see, the console only leaves out what it was not given.

export interface Session {
  token: string;
  subject: string;
  roles: string[];
  expiresAt: number | null;
}

/** The roles that see personal data (as the API's access policy says). */
const PERSONAL_DATA_ROLES = ['clerk', 'auditor'];

export const seesPersonalData = (session: Session) => session.roles.some((role) => PERSONAL_DATA_ROLES.includes(role));
export const isOperator = (session: Session) => session.roles.includes('operator');

/** What the token says of its holder, for the page to show; head office verifies it on every call. */
export function sessionOf(token: string): Session {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new Error('that is not a token: a token has three parts separated by dots');
  let claims: { sub?: unknown; roles?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(atob(parts[1]!.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    throw new Error('that is not a token: its middle part is not JSON');
  }
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((role): role is string => typeof role === 'string') : [];
  return {
    token: token.trim(),
    subject: typeof claims.sub === 'string' ? claims.sub : '(unnamed)',
    roles,
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
  };
}

/** A refusal of the API, with its status and the body's message. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(readonly session: Session) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.session.token}`, ...extra };
  }

  async get<T>(path: string): Promise<T> {
    return this.answer<T>(await fetch(path, { headers: this.headers() }));
  }

  async send<T>(method: 'POST' | 'DELETE', path: string, body: unknown): Promise<T> {
    return this.answer<T>(
      await fetch(path, { method, headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) }),
    );
  }

  private async answer<T>(response: Response): Promise<T> {
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const message = (body as { message?: string } | undefined)?.message ?? (text || response.statusText);
      throw new ApiError(response.status, message);
    }
    return body as T;
  }

  /**
   * Follows a server-sent event stream (read with fetch, which can send the bearer token, unlike
   * EventSource), calling `onData` with each event's JSON; reconnects after a drop until `signal`
   * aborts. `onState` tells whether the stream is open.
   */
  async follow<T>(path: string, onData: (data: T) => void, onState: (open: boolean) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const response = await fetch(path, { headers: this.headers({ accept: 'text/event-stream' }), signal });
        if (!response.ok || !response.body) throw new ApiError(response.status, `the live feed answered ${response.status}`);
        onState(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffered = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += value;
          let end: number;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const data = block
              .split('\n')
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5).trimStart())
              .join('\n');
            if (data) onData(JSON.parse(data) as T);
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          onState(false);
          throw error;
        }
      }
      onState(false);
      await new Promise((settle) => setTimeout(settle, 1000));
    }
  }
}
