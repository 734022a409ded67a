// Issuance at head office as one API plugin: the application and primary issuance routes, the
// snapshot publisher and the lookup responder, started with the API and stopped when it closes.
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RefusedRequests } from '../../infra/nats/responder.js';
import type { IssuerMasterKeys } from '../../card/index.js';
import { PcscReaders, type PcscCard } from '../../edge/card-reader/index.js';
import { IssuanceOffice, applicationRoutes } from '../applications/index.js';
import type { EventStore } from '../eventstore/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { primaryIssuanceRoutes, writeVirtualCardStripe, type PrimaryIssuanceOptions } from '../primary-issuance/index.js';
import { startLookupResponder } from './lookup-responder.js';
import { startSnapshotPublisher, type Logger } from './snapshot-publisher.js';

export interface HeadOfficeIssuanceOptions {
  store: EventStore;
  /** The snapshot publisher's connection and the lookup responder's, each its own principal. */
  nats: { snapshots: NatsConnection; responder: NatsConnection };
  refused?: RefusedRequests;
  hqWriter: HqWriter;
  /** The read-model database the issuance snapshot projection keeps (the runner's). */
  readModels: Database.Database;
  /** Head office's X25519 private key: lookups are sealed to it. */
  sealingKey: KeyObject;
  issuerKeys: IssuerMasterKeys;
  /** Head office's card readers; PC/SC through pcscd by default. */
  cardReader?: PrimaryIssuanceOptions['cardReader'];
  /** Head office's stripe encoder; the virtual card's stripe file by default. */
  stripeWriter?: PrimaryIssuanceOptions['stripeWriter'];
  logger?: Logger;
}

/** A PC/SC reader of head office by name: waits briefly for the card and connects to it. */
function pcscCardReader(): { cardReader: PrimaryIssuanceOptions['cardReader']; close(): void } {
  let readers: PcscReaders | undefined;
  let connected: PcscCard | undefined;
  return {
    async cardReader(readerName) {
      readers ??= PcscReaders.open();
      await connected?.disconnect().catch(() => undefined);
      await readers.waitForReader(readerName, 5000);
      await readers.waitForCard(readerName, 5000);
      connected = await readers.connect(readerName);
      return connected;
    },
    close() {
      void connected?.disconnect().catch(() => undefined);
      readers?.close();
    },
  };
}

export function headOfficeIssuance(options: HeadOfficeIssuanceOptions): FastifyPluginAsync {
  return async (app) => {
    const office = await IssuanceOffice.open({ store: options.store, writer: options.hqWriter });
    const pcsc = options.cardReader ? undefined : pcscCardReader();
    const logger = options.logger ? { logger: options.logger } : {};
    const publisher = await startSnapshotPublisher({ nc: options.nats.snapshots, readModels: options.readModels, ...logger });
    const lookups = startLookupResponder({
      nc: options.nats.responder,
      readModels: options.readModels,
      sealingKey: options.sealingKey,
      ...logger,
      ...(options.refused ? { refused: options.refused } : {}),
    });
    app.addHook('onClose', async () => {
      await lookups.stop();
      await publisher.stop();
      pcsc?.close();
    });
    await app.register(applicationRoutes({ office }));
    await app.register(
      primaryIssuanceRoutes({
        office,
        issuerKeys: options.issuerKeys,
        cardReader: options.cardReader ?? pcsc!.cardReader,
        stripeWriter: options.stripeWriter ?? writeVirtualCardStripe,
      }),
    );
  };
}
