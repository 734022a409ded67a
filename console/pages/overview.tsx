// Every store's sync state, live from head office's feed; the day's totals, open loads and alerts; charts.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { BarChart, LineChart, type Series } from '../charts.js';
import { duration, time, yen } from '../format.js';
import type { Activity, Overview, OverviewStore } from '../types.js';

const STATE_LABEL: Record<OverviewStore['state'], string> = {
  'caught-up': 'caught up',
  behind: 'behind',
  offline: 'offline',
  refused: 'batch refused',
  'never-seen': 'never seen',
};

/** Seconds tick on the page between the feed's messages, so "offline for" keeps counting. */
function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function eventsPerMinuteSeries(activity: Activity): Series[] {
  const stores = [...new Set(activity.eventsPerMinute.map((row) => row.storeId))].sort();
  return stores.map((storeId) => ({
    name: `store ${storeId}`,
    points: activity.eventsPerMinute
      .filter((row) => row.storeId === storeId)
      .map((row) => ({ at: Date.parse(row.minute), value: row.events })),
  }));
}

function perHourSeries(activity: Activity): Series[] {
  return ['load', 'pay'].map((kind) => ({
    name: `${kind}s`,
    points: activity.perHour.filter((row) => row.kind === kind).map((row) => ({ at: Date.parse(row.hour), value: row.count })),
  }));
}

function StoreRow(props: { store: OverviewStore; overview: Overview; receivedAt: number; now: number }) {
  const { store, overview } = props;
  const silent = store.silentForMs === null ? null : store.silentForMs + (props.now - props.receivedAt);
  const blacklistBehind = store.blacklistVersion !== null && store.blacklistVersion < overview.blacklistVersion;
  return (
    <tr class={`store ${store.state}`} data-testid={`store-row-${store.storeId}`} data-state={store.state}>
      <td>
        <a href={`#/store/${encodeURIComponent(store.storeId)}`}>{store.storeId}</a> {store.name && <small>{store.name}</small>}
      </td>
      <td class="state">
        <span class="badge">{STATE_LABEL[store.state]}</span>
        {store.refusal && <small> {store.refusal.reason}</small>}
      </td>
      <td>{time(store.lastHeardAt)}</td>
      <td data-testid={`offline-for-${store.storeId}`}>{silent === null ? '—' : duration(silent)}</td>
      <td class="number">
        #{store.lastSeqReceived}
        {store.localHeadSeq > store.lastSeqReceived && <small> of #{store.localHeadSeq}</small>}
      </td>
      <td class="number" data-testid={`behind-${store.storeId}`}>
        {store.eventsBehind}
      </td>
      <td>{time(store.lastBatchAt)}</td>
      <td class={blacklistBehind ? 'warn' : ''}>
        {store.blacklistVersion === null ? '—' : `v${store.blacklistVersion}`}
        {blacklistBehind && <small> (head office v{overview.blacklistVersion})</small>}
      </td>
    </tr>
  );
}

/** A business day's issuances, loads, pays and declines, as the stores reported them. */
export function TotalsTile(props: { testId: string; day: Overview['today'] }) {
  const { day } = props;
  return (
    <div class="tile" data-testid={props.testId}>
      <h3>Business day {day.businessDay}</h3>
      <p>{day.issuances.count} issuances</p>
      <p>
        {day.loads.count} loads, {yen(day.loads.total)}
      </p>
      <p>
        {day.pays.count} pays, {yen(day.pays.total)}
      </p>
      <p>{day.declines.count} declined</p>
    </div>
  );
}

export function OverviewPage(props: { api: Api }) {
  const [overview, setOverview] = useState<{ data: Overview; receivedAt: number } | null>(null);
  const [live, setLive] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [activity, setActivity] = useState<Activity | null>(null);
  const lastActivityAt = useRef(0);
  const now = useNow(1000);

  useEffect(() => {
    const abort = new AbortController();
    props.api
      .follow<Overview>(
        '/v1/overview/stream',
        (data) => {
          setOverview({ data, receivedAt: Date.now() });
          // The charts follow the feed: at most every 5 s, when something changed.
          if (Date.now() - lastActivityAt.current > 5000) {
            lastActivityAt.current = Date.now();
            props.api.get<Activity>('/v1/activity').then(setActivity, (error: Error) => setProblem(error.message));
          }
        },
        setLive,
        abort.signal,
      )
      .catch((error: Error) => setProblem(error.message));
    return () => abort.abort();
  }, [props.api.session.token]);

  if (problem) return <p class="problem">{problem}</p>;
  if (!overview) return <p>Connecting to head office…</p>;
  const { data } = overview;
  return (
    <section class="overview">
      <h2>
        Overview{' '}
        <span class={`live ${live ? 'on' : 'off'}`} data-testid="live">
          {live ? '● live' : '○ reconnecting'}
        </span>
      </h2>
      <table class="stores" data-testid="stores">
        <thead>
          <tr>
            <th>Store</th>
            <th>State</th>
            <th>Last heard</th>
            <th>Offline for</th>
            <th>Events at head office</th>
            <th>Behind</th>
            <th>Last batch</th>
            <th>Blacklist</th>
          </tr>
        </thead>
        <tbody>
          {data.stores.map((store) => (
            <StoreRow key={store.storeId} store={store} overview={data} receivedAt={overview.receivedAt} now={now} />
          ))}
        </tbody>
      </table>
      <p class="note">
        A store is offline when head office has not heard from it for {duration(data.offlineAfterMs)}; "behind" counts the events it said it
        holds that head office has not stored yet.
      </p>
      <div class="tiles">
        <TotalsTile testId="today" day={data.today} />
        <div class="tile" data-testid="open-loads">
          <h3>Open load authorisations</h3>
          <p class="big">{data.openLoads.count}</p>
          <p>{yen(data.openLoads.total)} held</p>
        </div>
        <div class={`tile ${data.alerts.open > 0 ? 'warn' : ''}`} data-testid="open-alerts">
          <h3>
            <a href="#/alerts">Unresolved alerts</a>
          </h3>
          <p class="big">{data.alerts.open}</p>
          <p>
            {Object.entries(data.alerts.bySeverity)
              .map(([severity, count]) => `${count} ${severity}`)
              .join(', ') || 'none'}
          </p>
        </div>
      </div>
      {activity && (
        <div class="charts">
          <LineChart
            title="Events per minute per store (last hour)"
            unit="events/min"
            series={eventsPerMinuteSeries(activity)}
            testId="chart-events"
          />
          <BarChart title="Loads and pays per hour" unit="per hour" series={perHourSeries(activity)} testId="chart-hours" />
        </div>
      )}
    </section>
  );
}
