// The console's overview: every store's sync state beside whether head office hears from it now,
// the business day's totals, the loads still open and the alerts not yet resolved.
import type Database from 'better-sqlite3';
import { type BusinessDayRule, businessDayBounds, businessDayOf } from '../../domain/index.js';
import type { Overview, StoreState } from '../../contracts/index.js';
import { ActivityReader, LoadTracks, PurseLedgerReader, ReadModelQueries } from '../../projections/index.js';
import type { StoreContacts } from './store-contacts.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class OverviewReader {
  private readonly queries: ReadModelQueries;
  private readonly activity: ActivityReader;
  private readonly loads: LoadTracks;
  private readonly ledger: PurseLedgerReader;

  constructor(
    db: Database.Database,
    private readonly contacts: StoreContacts,
    private readonly businessDay: BusinessDayRule,
    private readonly blacklistVersion: () => number,
  ) {
    this.queries = new ReadModelQueries(db);
    this.activity = new ActivityReader(db);
    this.loads = new LoadTracks(db);
    this.ledger = new PurseLedgerReader(db);
  }

  overview(nowMs = Date.now()): Overview {
    const day = businessDayOf(nowMs, this.businessDay);
    const { opensAtMs } = businessDayBounds(day, this.businessDay);
    const open = this.loads.open();
    const counts = this.ledger.openAlertCounts();
    const sum = (pick: (row: (typeof counts)[number]) => string) => {
      const by: Record<string, number> = {};
      for (const row of counts) by[pick(row)] = (by[pick(row)] ?? 0) + row.count;
      return by;
    };
    return {
      at: new Date(nowMs).toISOString(),
      offlineAfterMs: this.contacts.offlineAfterMs,
      blacklistVersion: this.blacklistVersion(),
      stores: this.queries.stores().map((sync) => {
        const contact = this.contacts.of(sync.storeId);
        const state: StoreState = sync.refusal
          ? 'refused'
          : contact.lastHeardAtMs === null && sync.batchesReceived === 0
            ? 'never-seen'
            : !contact.online
              ? 'offline'
              : sync.eventsBehind > 0
                ? 'behind'
                : 'caught-up';
        return {
          storeId: sync.storeId,
          name: sync.name,
          state,
          online: contact.online,
          lastHeardAt: iso(contact.lastHeardAtMs),
          silentForMs: contact.online || contact.lastHeardAtMs === null ? null : nowMs - contact.lastHeardAtMs,
          lastSeqReceived: sync.lastSeqReceived,
          localHeadSeq: sync.localHeadSeq,
          eventsBehind: sync.eventsBehind,
          lastBatchAt: sync.lastContactAt,
          blacklistVersion: contact.blacklistVersion,
          blacklistSyncedAt: iso(contact.blacklistSyncedAtMs),
          refusal: sync.refusal && { range: sync.refusal.range, reason: sync.refusal.reason },
        };
      }),
      today: { businessDay: day, from: new Date(opensAtMs).toISOString(), ...this.activity.totals(opensAtMs, nowMs + 1) },
      openLoads: { count: open.length, total: open.reduce((total, load) => total + load.amount, 0) },
      alerts: {
        open: counts.reduce((total, row) => total + row.count, 0),
        bySeverity: sum((row) => row.severity),
        byKind: sum((row) => row.kind),
      },
    };
  }
}
