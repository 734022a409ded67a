// Composition root of issuance at head office: the application and primary issuance routes and the lookup
// responder, started with the API and stopped when it closes, and the writer's side (issuance office, snapshot
// publisher) that runs on the instance holding the writer.
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import type { IssuerMasterKeys } from '../../card/index.js';
import { PcscReaders, type PcscCard } from '../../reader/index.js';
import { IssuanceOffice, applicationRoutes } from '../applications/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { primaryIssuanceRoutes, writeVirtualCardStripe, type PrimaryIssuanceOptions } from '../primary-issuance/index.js';
import { startLookupResponder } from './lookup-responder.js';
import { startSnapshotPublisher } from './snapshot-publisher.js';
import type { Logger } from '../../infra/index.js';

export interface HeadOfficeIssuanceOptions {
  store: EventStore;
  nc: NatsConnection;
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

export interface HeadOfficeIssuance {
  /**
   * The application and primary issuance routes, and the lookup responder (it only reads the read
   * models, so every instance answers: one of them per lookup), for as long as the API runs.
   */
  routes(office: () => IssuanceOffice): FastifyPluginAsync;
  /** The writer's side: the issuance office on `hq`, and the snapshot publisher (one per head office). */
  startWriter(hqWriter: HqWriter): Promise<{ office: IssuanceOffice; stop(): Promise<void> }>;
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

export function headOfficeIssuance(options: HeadOfficeIssuanceOptions): HeadOfficeIssuance {
  const logger = options.logger ? { logger: options.logger } : {};
  return {
    routes(office) {
      return async (app) => {
        const pcsc = options.cardReader ? undefined : pcscCardReader();
        const lookups = startLookupResponder({ nc: options.nc, readModels: options.readModels, sealingKey: options.sealingKey, ...logger });
        app.addHook('onClose', async () => {
          await lookups.stop();
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
    },
    async startWriter(hqWriter) {
      const office = await IssuanceOffice.open({ store: options.store, writer: hqWriter });
      const publisher = await startSnapshotPublisher({ nc: options.nc, readModels: options.readModels, ...logger });
      return { office, stop: () => publisher.stop() };
    },
  };
}
