// The purse ledger's alerts, open ones first and most severe first; an operator resolves one with a note.
import { useEffect, useState } from 'preact/hooks';
import { type Api, isOperator } from '../api.js';
import { time } from '../format.js';
import type { Alert } from '../types.js';

function Resolve(props: { api: Api; alert: Alert; onResolved: () => void }) {
  const [note, setNote] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await props.api.send('POST', `/v1/alerts/${props.alert.alertId}/resolution`, { note });
      props.onResolved();
    } catch (error) {
      setProblem((error as Error).message);
    }
  };
  return (
    <form class="resolve" onSubmit={submit}>
      <input
        name="note"
        required
        value={note}
        onInput={(event) => setNote((event.target as HTMLInputElement).value)}
        placeholder="what was found"
      />
      <button type="submit">Resolve</button>
      {problem && <span class="problem">{problem}</span>}
    </form>
  );
}

export function AlertsPage(props: { api: Api }) {
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    props.api.get<{ alerts: Alert[] }>('/v1/alerts?order=severity&limit=500').then(
      (answer) => setAlerts(answer.alerts),
      (error: Error) => setProblem(error.message),
    );
  }, [reload]);
  if (problem) return <p class="problem">{problem}</p>;
  if (!alerts) return <p>Loading…</p>;
  return (
    <section class="alerts-page">
      <h2>Alerts</h2>
      {alerts.length === 0 && <p>No alerts: every card's history adds up.</p>}
      <table data-testid="alerts">
        <thead>
          <tr>
            <th>#</th>
            <th>Severity</th>
            <th>Kind</th>
            <th>Card</th>
            <th>Store</th>
            <th>Raised</th>
            <th>What</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((alert) => (
            <tr key={alert.alertId} class={`${alert.severity} ${alert.resolved ? 'resolved' : 'open'}`}>
              <td>{alert.alertId}</td>
              <td>
                <span class="badge">{alert.severity}</span>
              </td>
              <td>{alert.kind}</td>
              <td>
                <a href={`#/card/${alert.cardId}`}>{alert.cardId}</a>
              </td>
              <td>
                <a href={`#/store/${encodeURIComponent(alert.storeId)}`}>{alert.storeId}</a> #{alert.storeSeq}
              </td>
              <td>{time(alert.raisedAt)}</td>
              <td>{alert.message}</td>
              <td>
                {alert.resolved ? (
                  alert.resolution ? (
                    `resolved by ${alert.resolution.by}: ${alert.resolution.note}`
                  ) : (
                    'resolved by later events'
                  )
                ) : isOperator(props.api.session) ? (
                  <Resolve api={props.api} alert={alert} onResolved={() => setReload((n) => n + 1)} />
                ) : (
                  'open'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
