// A store: its sync history and lag over time, the business day's takings, its terminals, its issuance backlog.
import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { LineChart } from '../charts.js';
import { duration, time } from '../format.js';
import type { Overview, StoreActivity } from '../types.js';
import { TotalsTile } from './overview.js';

export function StorePage(props: { api: Api; storeId: string | undefined }) {
  const { api, storeId } = props;
  const [stores, setStores] = useState<Overview['stores'] | null>(null);
  const [store, setStore] = useState<StoreActivity | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    api.get<Overview>('/v1/overview').then(
      (overview) => setStores(overview.stores),
      (error: Error) => setProblem(error.message),
    );
  }, []);
  useEffect(() => {
    if (!storeId) return;
    const load = () =>
      api
        .get<StoreActivity>(`/v1/stores/${encodeURIComponent(storeId)}/activity`)
        .then(setStore, (error: Error) => setProblem(error.message));
    void load();
    // The store page refreshes with the live feed: a change at head office brings the new history.
    const abort = new AbortController();
    api
      .follow<Overview>(
        '/v1/overview/stream',
        () => void load(),
        () => {},
        abort.signal,
      )
      .catch(() => {});
    return () => abort.abort();
  }, [storeId]);

  const history = store ? [...store.batches].reverse() : [];
  return (
    <section class="store-page">
      <h2>Store</h2>
      <nav class="store-list">
        {stores?.map((entry) => (
          <a
            key={entry.storeId}
            href={`#/store/${encodeURIComponent(entry.storeId)}`}
            class={`${entry.state} ${entry.storeId === storeId ? 'current' : ''}`}
          >
            {entry.storeId}
          </a>
        ))}
      </nav>
      {problem && <p class="problem">{problem}</p>}
      {!storeId && <p>Choose a store.</p>}
      {store && (
        <div data-testid="store-view">
          <h3>
            Store {store.storeId} {store.sync.name && <small>{store.sync.name}</small>}{' '}
            {store.contact && <span class={`badge ${store.contact.state}`}>{store.contact.state}</span>}
          </h3>
          <div class="tiles">
            <TotalsTile testId="store-today" day={store.today} />
            <div class="tile">
              <h4>Sync</h4>
              <p>
                head office holds #{store.sync.lastSeqReceived} of #{store.sync.localHeadSeq}
              </p>
              <p>last batch {time(store.sync.lastContactAt)}</p>
              <p>last heard {time(store.contact?.lastHeardAt)}</p>
            </div>
            <div class="tile" data-testid="backlog">
              <h4>Issuance backlog</h4>
              <p class="big">{store.backlog.cards}</p>
              <p>
                cards of {store.backlog.users} user(s) of this store and its neighbours await secondary issuance
                {store.backlog.userIds.length > 0 && `: ${store.backlog.userIds.join(', ')}`}
              </p>
            </div>
          </div>
          <div class="charts">
            <LineChart
              title="Lag over time: how old the newest event of each batch was when head office stored it"
              unit="seconds"
              series={[{ name: 'lag', points: history.map((batch) => ({ at: Date.parse(batch.receivedAt), value: batch.lagMs / 1000 })) }]}
              testId="chart-lag"
            />
            <LineChart
              title="Events behind at each batch"
              unit="events"
              series={[
                { name: 'behind', points: history.map((batch) => ({ at: Date.parse(batch.receivedAt), value: batch.eventsBehind })) },
              ]}
            />
          </div>
          <h4>Terminals</h4>
          <table data-testid="terminals">
            <thead>
              <tr>
                <th>Terminal</th>
                <th>Events</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {store.terminals.map((terminal) => (
                <tr key={terminal.terminalId}>
                  <td>{terminal.terminalId}</td>
                  <td class="number">{terminal.events}</td>
                  <td>{time(terminal.lastSeenAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h4>Sync history</h4>
          <table data-testid="sync-history">
            <thead>
              <tr>
                <th>Stored at head office</th>
                <th>Up to event</th>
                <th>Events</th>
                <th>Behind</th>
                <th>Lag</th>
              </tr>
            </thead>
            <tbody>
              {store.batches.slice(0, 50).map((batch) => (
                <tr key={batch.seq}>
                  <td>{time(batch.receivedAt)}</td>
                  <td class="number">#{batch.seq}</td>
                  <td class="number">{batch.events}</td>
                  <td class="number">{batch.eventsBehind}</td>
                  <td class="number">{duration(batch.lagMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
