// Composition root of issuance at head office, as one API plugin: the application and primary issuance routes, the
// snapshot publisher and the lookup responder, started with the API and stopped when it closes.
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import type { IssuerMasterKeys } from '../../card/index.js';
import { PcscReaders, type PcscCard } from '../../reader/index.js';
import { IssuanceOffice, applicationRoutes } from '../applications/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { primaryIssuanceRoutes, stripeWriterOf, type IssuanceStation } from '../primary-issuance/index.js';
import { startLookupResponder } from './lookup-responder.js';
import { startSnapshotPublisher } from './snapshot-publisher.js';
import type { Logger } from '../../infra/index.js';

export interface HeadOfficeIssuanceOptions {
  store: EventStore;
  nc: NatsConnection;
  hqWriter: HqWriter;
  /** The read-model database the issuance snapshot projection keeps (the runner's). */
  readModels: Database.Database;
  /** Head office's X25519 private key: lookups are sealed to it. */
  sealingKey: KeyObject;
  issuerKeys: IssuerMasterKeys;
  /** Head office's issuance station (see pcscIssuanceStation); primary issuance is refused without one. */
  station?: IssuanceStation;
  logger?: Logger;
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

export function headOfficeIssuance(options: HeadOfficeIssuanceOptions): FastifyPluginAsync {
  return async (app) => {
    const office = await IssuanceOffice.open({ store: options.store, writer: options.hqWriter });
    const publisher = await startSnapshotPublisher({
      nc: options.nc,
      readModels: options.readModels,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    const lookups = startLookupResponder({
      nc: options.nc,
      readModels: options.readModels,
      sealingKey: options.sealingKey,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    app.addHook('onClose', async () => {
      await lookups.stop();
      await publisher.stop();
      options.station?.close?.();
    });
    await app.register(applicationRoutes({ office }));
    await app.register(
      primaryIssuanceRoutes({ office, issuerKeys: options.issuerKeys, ...(options.station ? { station: options.station } : {}) }),
    );
  };
}
