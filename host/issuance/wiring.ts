// Composition root of issuance at head office: the application and primary issuance routes and the lookup
// responder, started with the API and stopped when it closes, and the writer's side (issuance office, snapshot
// publisher) that runs on the instance holding the writer.
import type { KeyObject } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RefusedRequests } from '../../infra/nats/index.js';
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { IssuerMasterKeys } from '../../card/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { type PcscCard, PcscReaders } from '../../reader/index.js';
import { applicationRoutes, IssuanceOffice } from '../applications/index.js';
import { storeKeyDirectory, type HqWriter } from '../hq-writer/index.js';
import type { SigningKey } from '../../contracts/index.js';
import {
  type IssuanceStation,
  type IssueCardRequest,
  type IssuedCard,
  issuePrimaryCard,
  type PrimaryIssuanceOptions,
  primaryIssuanceRoutes,
  stripeWriterOf,
} from '../primary-issuance/index.js';
import { startLookupResponder } from './lookup-responder.js';
import { startSnapshotPublisher } from './snapshot-publisher.js';

export interface HeadOfficeIssuanceOptions {
  store: EventStore;
  /** The snapshot publisher's connection and the lookup responder's, each its own principal. */
  nats: { snapshots: NatsConnection; responder: NatsConnection };
  /** Where the lookup responder counts the requests it refused (a reply subject not the asker's). */
  refused?: RefusedRequests;
  /** The read-model database the issuance snapshot projection keeps (the runner's). */
  readModels: Database.Database;
  /** Head office's X25519 private key: lookups are sealed to it. */
  sealingKey: KeyObject;
  /** Head office's Ed25519 key: it signs lookup answers and snapshot messages. */
  signingKey: SigningKey;
  issuerKeys: IssuerMasterKeys;
  /** Head office's issuance station (see pcscIssuanceStation); primary issuance is refused without one. */
  station?: IssuanceStation;
  logger?: Logger;
}

export interface HeadOfficeIssuance {
  /**
   * The application and primary issuance routes, and the lookup responder (it only reads the read
   * models, so every instance answers: one of them per lookup), for as long as the API runs.
   */
  routes(office: () => IssuanceOffice): FastifyPluginAsync;
  /** Primary issuance on the card in head office's station, outside the routes (a lost card's replacement). */
  issueCard(office: () => IssuanceOffice, request: IssueCardRequest): Promise<IssuedCard>;
  /** The writer's side: the issuance office on `hq`, and the snapshot publisher (one per head office). */
  startWriter(hqWriter: HqWriter): Promise<{ office: IssuanceOffice; stop(): Promise<void> }>;
}

/**
 * The issuance station `cardsys host --issuance-reader <name> --issuance-stripe <encoder>` names: a
 * PC/SC reader through pcscd (waits briefly for the card and connects to it) and its stripe encoder.
 */
export function pcscIssuanceStation(readerName: string, stripe: string): IssuanceStation {
  const writeStripe = stripeWriterOf(stripe);
  let readers: PcscReaders | undefined;
  let connected: PcscCard | undefined;
  return {
    readerName,
    writeStripe,
    async card() {
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
  const primaryIssuance = (office: () => IssuanceOffice): PrimaryIssuanceOptions => ({
    office,
    issuerKeys: options.issuerKeys,
    ...(options.station ? { station: options.station } : {}),
  });
  return {
    routes(office) {
      return async (app) => {
        const lookups = startLookupResponder({
          nc: options.nats.responder,
          readModels: options.readModels,
          sealingKey: options.sealingKey,
          signingKey: options.signingKey,
          storeKeys: storeKeyDirectory(options.store),
          ...logger,
          ...(options.refused ? { refused: options.refused } : {}),
        });
        app.addHook('onClose', async () => {
          await lookups.stop();
          options.station?.close?.();
        });
        await app.register(applicationRoutes({ office }));
        await app.register(primaryIssuanceRoutes(primaryIssuance(office)));
      };
    },
    issueCard(office, request) {
      return issuePrimaryCard(primaryIssuance(office), request);
    },
    async startWriter(hqWriter) {
      const office = await IssuanceOffice.open({
        store: options.store,
        writer: hqWriter,
      });
      const publisher = await startSnapshotPublisher({
        nc: options.nats.snapshots,
        readModels: options.readModels,
        signingKey: options.signingKey,
        ...logger,
      });
      return { office, stop: () => publisher.stop() };
    },
  };
}
