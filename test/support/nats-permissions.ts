// How a test sees nats-server refuse a principal: the permission violation it reports.
import { PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';

/** The next permission violation the server reports on this connection for the subject. */
export function permissionViolation(nc: NatsConnection, subject: string): Promise<PermissionViolationError> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`no permission violation for ${subject} reported`)), 10_000);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'error' && status.error instanceof PermissionViolationError && status.error.subject === subject) {
          clearTimeout(guard);
          resolve(status.error);
          return;
        }
      }
    })();
  });
}
