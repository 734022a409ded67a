// Answering requests without becoming a confused deputy. A request's reply subject is chosen by
// whoever sent it; a responder that answers wherever it is told publishes with its own rights on a
// subject of the asker's choosing (a JetStream API call, another store's acks...). Every responder at
// head office and at the edge therefore answers through `serveRequests`, which answers only:
//
// - a request that came from another account through a service import (nats-server then stamps
//   Nats-Request-Info with the asking account and replaces the reply by a subject of its own,
//   `_R_.<token>`, routed back to the asker only), when that account is the asker's; or
// - any other request whose reply subject lies inside the asker's own inbox prefix.
//
// Anything else is refused before the request is handled, logged and counted.
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { isValidStoreId } from '../../contracts/index.js';
import type { Logger } from '../logger.js';
import { accountOf, inboxPrefixOf, principalName, SERVICE_REPLY_PREFIX, type Principal } from './auth.js';

/** Set by nats-server on a request that crossed accounts through a service import. */
const REQUEST_INFO_HEADER = 'Nats-Request-Info';

/** Why the request's reply subject is not the asker's own, or undefined when it is. */
function replyRefusal(msg: Pick<Msg, 'reply' | 'headers'>, asker: Principal): string | undefined {
  const reply = msg.reply;
  if (!reply) return 'the request names no reply subject';
  const info = msg.headers?.get(REQUEST_INFO_HEADER);
  if (info) {
    let account: unknown;
    try {
      account = (JSON.parse(info) as { acc?: unknown }).acc;
    } catch {
      return `its ${REQUEST_INFO_HEADER} header cannot be read`;
    }
    if (account !== accountOf(asker))
      return `it came from account "${String(account)}", not from ${principalName(asker)}'s account "${accountOf(asker)}"`;
    if (!reply.startsWith(`${SERVICE_REPLY_PREFIX}.`))
      return `its reply subject "${reply}" is not one nats-server made for a request from another account`;
    return undefined;
  }
  const prefix = `${inboxPrefixOf(asker)}.`;
  if (!reply.startsWith(prefix)) return `its reply subject "${reply}" lies outside ${principalName(asker)}'s inbox ${prefix}>`;
  return undefined;
}

/** Refused requests, counted per service; one instance may serve every responder of a process. */
export class RefusedRequests {
  private readonly counts = new Map<string, number>();

  note(service: string): void {
    this.counts.set(service, (this.counts.get(service) ?? 0) + 1);
  }

  get total(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  of(service: string): number {
    return this.counts.get(service) ?? 0;
  }
}

/** The store a head-office request subject (`cardsys.hq.<kind>.<storeId>`) names as asker. */
export function storeAskingOn(msg: Pick<Msg, 'subject'>): Extract<Principal, { role: 'store' }> | undefined {
  const storeId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
  return isValidStoreId(storeId) ? { role: 'store', storeId } : undefined;
}

export interface Answer {
  data: Uint8Array;
  headers?: MsgHdrs;
}

export interface ServeRequestsOptions<Asker extends Principal> {
  /** The service, as log lines and counts name it, e.g. "issuance lookup". */
  service: string;
  subject: string;
  queue?: string;
  /** Who may ask on the subject the request came on; undefined refuses it (e.g. an invalid store id). */
  askerOf(msg: Msg): Asker | undefined;
  /** The answer; a throw is logged and leaves the request unanswered. */
  answer(msg: Msg, asker: Asker): Answer | Uint8Array | Promise<Answer | Uint8Array>;
  logger: Logger;
  refused?: RefusedRequests;
}

/** Subscribes to `subject` and answers each request that passes `replyRefusal`, on its reply subject only. */
export function serveRequests<Asker extends Principal>(nc: NatsConnection, options: ServeRequestsOptions<Asker>): Subscription {
  const { logger, service } = options;
  const refused = options.refused ?? new RefusedRequests();
  const handle = async (msg: Msg) => {
    const asker = options.askerOf(msg);
    const refusal = asker ? replyRefusal(msg, asker) : `no principal may ask on ${msg.subject}`;
    if (refusal !== undefined || !asker) {
      refused.note(service);
      logger.warn(`${service}: request on ${msg.subject} refused, not answered: ${refusal}`);
      return;
    }
    const answer = await options.answer(msg, asker);
    if (answer instanceof Uint8Array) msg.respond(answer);
    else msg.respond(answer.data, answer.headers ? { headers: answer.headers } : undefined);
  };
  return nc.subscribe(options.subject, {
    ...(options.queue ? { queue: options.queue } : {}),
    callback: (error, msg) => {
      if (error) return logger.error(`${service}: subscription to ${options.subject} failed: ${error.message}`);
      handle(msg).catch((failure: Error) =>
        logger.error(`${service}: request on ${msg.subject} failed: ${failure.stack ?? failure.message}`),
      );
    },
  });
}
