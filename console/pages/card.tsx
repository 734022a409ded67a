// A card: search by card id, user or bank ID; its timeline, shadow balance beside the chip's, its
// alerts; an operator blacklists or reinstates it and sees the change reach the stores.
import { useEffect, useState } from 'preact/hooks';
import { type Api, isOperator, seesPersonalData } from '../api.js';
import { time, yen } from '../format.js';
import type { Alert, CardView, Overview, TimelineEntry, UserView } from '../types.js';

const KIND: Record<string, string> = {
  CardPrimaryIssued: 'primary issuance',
  CardIssued: 'secondary issuance',
  CardIssueRejected: 'issuance refused',
  PurseLoaded: 'load',
  PursePaid: 'pay',
  PurseOperationDeclined: 'declined',
  PurseCreditStarted: 'credit started',
  LoadAuthorised: 'load authorised',
  LoadAuthorisationCompleted: 'load completed',
  LoadAuthorisationReversed: 'load reversed',
  LoadAuthorisationHandedOver: 'load handed over',
  BankAccountDebited: 'account debited',
  CardBlacklisted: 'blacklisted',
  CardReinstated: 'reinstated',
  LoadOverdue: 'load overdue',
  AlertResolved: 'alert resolved',
  RefundAuthorised: 'refund authorised',
  PurseRefunded: 'refund',
  RefundCompleted: 'refund completed',
  RefundReversed: 'refund reversed',
  PinUnblockAuthorised: 'PIN unblock authorised',
  PinUnblockRefused: 'PIN unblock refused',
  PinUnblocked: 'PIN unblocked',
  PinChanged: 'PIN changed',
  UnloadAuthorised: 'unload authorised',
  PurseUnloaded: 'unload',
  BankAccountCredited: 'account credited',
  CardClosed: 'closed',
  CardReportedLost: 'reported lost',
  CardReplacementIssued: 'replacement issued',
  CardBalanceTransferred: 'balance transferred',
  CardReplacementAdjusted: 'replacement adjusted',
};

function useSearch() {
  const [query, setQuery] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [found, setFound] = useState<Array<{ cardId: string; userId: string }> | null>(null);
  const submit = async (event: Event, api: Api | null) => {
    event.preventDefault();
    const text = query.trim();
    setProblem(null);
    setFound(null);
    if (/^[0-9a-f]{16}$/.test(text)) {
      location.hash = `#/card/${text}`;
      return;
    }
    if (!api) return;
    try {
      const by = /^\d{14}$/.test(text) ? `bankId=${text}` : `userId=${encodeURIComponent(text)}`;
      const { cards } = await api.get<{ cards: Array<{ cardId: string; userId: string }> }>(`/v1/cards?${by}`);
      if (cards.length === 1) location.hash = `#/card/${cards[0]!.cardId}`;
      else setFound(cards);
    } catch (error) {
      setProblem((error as Error).message);
    }
  };
  return { query, setQuery, problem, found, submit };
}

export function CardPage(props: { api: Api; cardId: string | undefined }) {
  const { api, cardId } = props;
  const search = useSearch();
  const [card, setCard] = useState<CardView | null>(null);
  const [user, setUser] = useState<UserView | null>(null);
  const [timeline, setTimeline] = useState<{ entries: TimelineEntry[]; alerts: Alert[] } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [reason, setReason] = useState('');
  const [changed, setChanged] = useState<{ version: number; blacklisted: boolean } | null>(null);
  const [overview, setOverview] = useState<Overview | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    if (!cardId) return;
    setProblem(null);
    Promise.all([
      api.get<CardView>(`/v1/cards/${cardId}`),
      api.get<{ entries: TimelineEntry[]; alerts: Alert[] }>(`/v1/cards/${cardId}/timeline`),
    ])
      .then(([view, history]) => {
        setCard(view);
        setTimeline(history);
        if (seesPersonalData(api.session)) api.get<UserView>(`/v1/users/${view.userId}`).then(setUser, () => setUser(null));
      })
      .catch((error: Error) => {
        setCard(null);
        setTimeline(null);
        setProblem(error.message);
      });
  }, [cardId, reload]);

  // While a blacklist change travels, the live feed says which stores have it.
  useEffect(() => {
    if (!changed) return;
    const abort = new AbortController();
    api.follow<Overview>('/v1/overview/stream', setOverview, () => {}, abort.signal).catch(() => {});
    return () => abort.abort();
  }, [changed?.version]);

  const changeBlacklist = async (event: Event) => {
    event.preventDefault();
    if (!card) return;
    try {
      const answer = await api.send<{ version: number; blacklisted: boolean }>(
        card.blacklisted ? 'DELETE' : 'POST',
        `/v1/cards/${card.cardId}/blacklist`,
        {
          reason,
        },
      );
      setChanged(answer);
      setReason('');
      setReload((n) => n + 1);
    } catch (error) {
      setProblem((error as Error).message);
    }
  };

  return (
    <section class="card-page">
      <h2>Card</h2>
      <form class="search" onSubmit={(event) => search.submit(event, api)}>
        <input
          name="search"
          value={search.query}
          onInput={(event) => search.setQuery((event.target as HTMLInputElement).value)}
          placeholder={seesPersonalData(api.session) ? 'card id, user id or bank ID (14 digits)' : 'card id or user id'}
        />
        <button type="submit">Find</button>
      </form>
      {search.problem && <p class="problem">{search.problem}</p>}
      {search.found && (
        <ul class="found">
          {search.found.length === 0 && <li>no card found</li>}
          {search.found.map((found) => (
            <li key={found.cardId}>
              <a href={`#/card/${found.cardId}`}>{found.cardId}</a> (user {found.userId})
            </li>
          ))}
        </ul>
      )}
      {problem && (
        <p class="problem" role="alert">
          {problem}
        </p>
      )}
      {card && (
        <div class="card-view" data-testid="card-view">
          <h3 data-testid="card-id">Card {card.cardId}</h3>
          <dl>
            <dt>User</dt>
            <dd>{card.userId}</dd>
            {user && (
              <>
                <dt>Name</dt>
                <dd data-testid="personal-name">{user.personal.name}</dd>
                <dt>Address</dt>
                <dd>{user.personal.address}</dd>
              </>
            )}
            <dt>Bank ID</dt>
            <dd data-testid="bank-id">{card.bankId ?? <em>withheld for your role</em>}</dd>
            <dt>Issued</dt>
            <dd>
              {card.issuance
                ? `at store ${card.issuance.storeId}, terminal ${card.issuance.terminalId}, ${time(card.issuance.issuedAt)}`
                : 'not yet at a store'}
            </dd>
            <dt>Expiry</dt>
            <dd>{card.expiry}</dd>
            <dt>Shadow balance</dt>
            <dd data-testid="shadow-balance">{yen(card.purse?.balance)}</dd>
            <dt>Chip balance last seen</dt>
            <dd data-testid="chip-balance">
              {yen(card.usage.lastBalance)} {card.usage.lastUsedAt && <small>({time(card.usage.lastUsedAt)})</small>}
            </dd>
            <dt>Usage</dt>
            <dd data-testid="usage">
              {card.usage.loadCount} loads ({yen(card.usage.loadedTotal)}), {card.usage.payCount} pays ({yen(card.usage.paidTotal)})
            </dd>
            <dt>Blacklist</dt>
            <dd data-testid="blacklist-state" class={card.blacklisted ? 'bad' : ''}>
              {card.blacklisted ? `blacklisted: ${card.blacklistReason ?? ''}` : 'not blacklisted'}
            </dd>
            {card.closed && (
              <>
                <dt>Closed</dt>
                <dd data-testid="closed-state" class="bad">
                  {card.closed.reason === 'lost'
                    ? `reported lost, captured and terminated at store ${card.closed.storeId ?? '?'} on ${time(card.closed.closedAt)}: its balance went to the replacement card`
                    : `returned at store ${card.closed.storeId ?? '?'} on ${time(card.closed.closedAt)}: ${yen(card.closed.unloadedAmount)} back to the bank account`}
                </dd>
              </>
            )}
          </dl>
          {/* A closed card is terminated: nothing is left to blacklist or reinstate. */}
          {isOperator(api.session) && !card.closed && (
            <form class="blacklist" onSubmit={changeBlacklist}>
              <input
                name="reason"
                required
                value={reason}
                onInput={(event) => setReason((event.target as HTMLInputElement).value)}
                placeholder={card.blacklisted ? 'why it may be used again' : 'why: lost, stolen, misused…'}
              />
              <button type="submit" class={card.blacklisted ? '' : 'danger'}>
                {card.blacklisted ? 'Reinstate' : 'Blacklist'}
              </button>
            </form>
          )}
          {changed && (
            <p class="reach" data-testid="blacklist-reach">
              Blacklist v{changed.version} sent to every store.{' '}
              {overview?.stores
                .map(
                  (store) =>
                    `${store.storeId}: ${store.blacklistVersion !== null && store.blacklistVersion >= changed.version ? 'has it' : 'not confirmed yet'}`,
                )
                .join(' · ')}
            </p>
          )}
        </div>
      )}
      {timeline && (
        <>
          <h3>Timeline</h3>
          <table class="timeline" data-testid="timeline">
            <thead>
              <tr>
                <th>When</th>
                <th>What</th>
                <th>Store</th>
                <th>Terminal</th>
                <th>Amount</th>
                <th>Balance after</th>
                <th>Counter</th>
                <th>Note</th>
              </tr>
            </thead>
            <tbody>
              {timeline.entries.map((entry) => (
                <tr key={`${entry.origin}-${entry.originSeq}`} class={entry.type} data-kind={entry.type}>
                  <td>{time(entry.occurredAt)}</td>
                  <td>{KIND[entry.type] ?? entry.type}</td>
                  <td>{entry.storeId ?? (entry.origin === 'hq' ? 'head office' : entry.origin)}</td>
                  <td>{entry.terminalId ?? ''}</td>
                  <td class="number">{entry.amount === null ? '' : yen(entry.amount)}</td>
                  <td class="number">{entry.balanceAfter === null ? '' : yen(entry.balanceAfter)}</td>
                  <td class="number">{entry.counter ?? ''}</td>
                  <td>
                    {[entry.operation, entry.reason, entry.recovered ? 'recovered at a later insertion' : null].filter(Boolean).join(' · ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Alerts</h3>
          {timeline.alerts.length === 0 ? (
            <p>none</p>
          ) : (
            <ul class="alerts">
              {timeline.alerts.map((alert) => (
                <li key={alert.alertId} class={alert.severity}>
                  #{alert.alertId} {alert.kind} ({alert.severity}) at store {alert.storeId}: {alert.message}{' '}
                  {alert.resolved ? '— resolved' : ''}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
