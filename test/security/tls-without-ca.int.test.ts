// TLS on every NATS link that crosses a network, with certificates from head office's private CA:
// a client that does not verify against that CA is refused (by its own TLS check: it cannot trust the
// server), at the hub and at a store's broker, whatever credentials it holds; and a broker whose leaf
// login is not a certificate from that CA never joins the hub, even one that names a store.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { subjects } from '../../contracts/index.js';
import { headOfficeFiles } from '../../host/provisioning/index.js';
import { freePort } from '../../infra/index.js';
import {
  ensureCertificateAuthority,
  issueCertificate,
  leafIdentityOf,
  LOCAL_HOSTS,
  natsConnectOptions,
  startNatsServer,
} from '../../infra/nats/index.js';
import { startDeployment, type Broker, type Deployment } from './deployment.js';

const UNTRUSTED = /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/;

describe("TLS with head office's private CA", () => {
  let deployment: Deployment;
  let brokerA: Broker;

  beforeAll(async () => {
    deployment = await startDeployment(['A']);
    brokerA = await deployment.startBroker('A');
  }, 60_000);
  afterAll(async () => {
    await deployment?.close();
  });

  it('the hub refuses a client without the CA, even with valid credentials, and admits it with the CA', async () => {
    const files = headOfficeFiles(deployment.hqDataDir);
    const credentials = natsConnectOptions(files.natsCreds.api);
    await expect(connect({ servers: deployment.hub.url, reconnect: false, ...credentials })).rejects.toThrow(UNTRUSTED);
    const verified = await connect({ servers: deployment.hub.url, reconnect: false, ...credentials, tls: { caFile: files.tlsCa.cert } });
    expect(verified.info?.tls_required).toBe(true);
    await verified.close();
  });

  it("a store's broker refuses its POS terminal without the CA, and one that trusts another CA", async () => {
    const bundle = deployment.bundle('A');
    const credentials = natsConnectOptions(bundle.terminal('pos-1').natsCreds);
    await expect(connect({ servers: brokerA.url, reconnect: false, ...credentials })).rejects.toThrow(UNTRUSTED);
    const otherCa = { cert: join(deployment.root, 'other-ca', 'ca.pem'), key: join(deployment.root, 'other-ca', 'ca-key.pem') };
    ensureCertificateAuthority(otherCa, 'some other CA');
    await expect(connect({ servers: brokerA.url, reconnect: false, ...credentials, tls: { caFile: otherCa.cert } })).rejects.toThrow(
      UNTRUSTED,
    );
    const verified = await connect({ servers: brokerA.url, reconnect: false, ...credentials, tls: { caFile: bundle.tlsCa } });
    await verified.close();
  });

  it('a broker whose certificate comes from another CA, though it names store A, or that has none, never joins the hub', async () => {
    const bundle = deployment.bundle('A');
    const otherCa = { cert: join(deployment.root, 'forger', 'ca.pem'), key: join(deployment.root, 'forger', 'ca-key.pem') };
    ensureCertificateAuthority(otherCa, 'forger');
    const forged = { cert: join(deployment.root, 'forger', 'store-A.pem'), key: join(deployment.root, 'forger', 'store-A-key.pem') };
    issueCertificate(otherCa, forged, { commonName: 'store A', hosts: LOCAL_HOSTS, uris: [leafIdentityOf('A')], clientAuth: true });

    const tryToJoin = async (name: string, clientCert: string) => {
      const dir = join(deployment.root, 'nats', name);
      mkdirSync(dir, { recursive: true });
      const port = await freePort();
      const configFile = join(dir, 'broker.conf');
      writeFileSync(
        configFile,
        [
          `listen: "127.0.0.1:${port}"`,
          `leafnodes { reconnect: 1, remotes = [ { urls: ["tls://127.0.0.1:${deployment.leafPort}"], tls: { ${clientCert}ca_file: ${JSON.stringify(bundle.tlsCa)} } } ] }`,
          '',
        ].join('\n'),
      );
      const server = await startNatsServer({ dataDir: dir, port, configFile });
      const client = await connect({ servers: server.url, reconnect: false });
      try {
        // Given time to dial the hub, it still reaches nobody there: no head-office responder answers.
        await new Promise((resolve) => setTimeout(resolve, 2500));
        return await client.request(subjects.sync('A'), new Uint8Array(0), { timeout: 1000 }).then(
          () => 'answered',
          (error: Error) => error.message,
        );
      } finally {
        await client.close();
        await server.stop();
      }
    };
    const hubLog = () => readFileSync(join(deployment.root, 'nats', 'hub', 'nats-server.log'), 'utf8');
    const before = hubLog().length;
    expect(await tryToJoin('forged', `cert_file: ${JSON.stringify(forged.cert)}, key_file: ${JSON.stringify(forged.key)}, `)).toMatch(
      /no responders/,
    );
    expect(await tryToJoin('no-cert', '')).toMatch(/no responders/);
    expect(hubLog().slice(before)).toMatch(/TLS leafnode handshake error/);
  }, 30_000);
});
