// Head office's console: sign in with an API token, then the overview, a card, a store, the alerts.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Api, type Session, sessionOf } from './api.js';
import { AlertsPage } from './pages/alerts.js';
import { CardPage } from './pages/card.js';
import { OverviewPage } from './pages/overview.js';
import { StorePage } from './pages/store.js';

const TOKEN_KEY = 'cardsys-console-token';

/** The page the address's hash names: #/overview, #/card/<id>, #/store/<id>, #/alerts. */
function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function SignIn(props: { onSession: (session: Session) => void; problem: string | null }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(props.problem);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const session = sessionOf(token);
      // One call proves the token before the console opens: head office verifies it.
      await new Api(session).get('/v1/overview');
      sessionStorage.setItem(TOKEN_KEY, session.token);
      props.onSession(session);
    } catch (error) {
      setProblem((error as Error).message);
    }
  };
  return (
    <main class="sign-in">
      <h1>cardsys · head office</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <textarea
          id="token"
          name="token"
          rows={5}
          value={token}
          onInput={(event) => setToken((event.target as HTMLTextAreaElement).value)}
          placeholder="paste the token of: cardsys host token --role operator --subject <you>"
        />
        <button type="submit">Sign in</button>
        {problem && (
          <p class="problem" role="alert">
            {problem}
          </p>
        )}
      </form>
    </main>
  );
}

function Console(props: { session: Session; onSignOut: () => void }) {
  const api = new Api(props.session);
  const [page, ...args] = useRoute();
  const link = (target: string, label: string) => (
    <a href={`#/${target}`} class={page === target ? 'current' : ''}>
      {label}
    </a>
  );
  return (
    <div class="console">
      <header>
        <strong>cardsys · head office</strong>
        <nav>
          {link('overview', 'Overview')}
          {link('card', 'Card')}
          {link('store', 'Store')}
          {link('alerts', 'Alerts')}
        </nav>
        <span class="who" data-testid="who">
          {props.session.subject} ({props.session.roles.join(', ') || 'no role'})
        </span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        {page === 'card' ? (
          <CardPage api={api} cardId={args[0]} />
        ) : page === 'store' ? (
          <StorePage api={api} storeId={args[0]} />
        ) : page === 'alerts' ? (
          <AlertsPage api={api} />
        ) : (
          <OverviewPage api={api} />
        )}
      </main>
    </div>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(() => {
    const stored = sessionStorage.getItem(TOKEN_KEY);
    try {
      const restored = stored ? sessionOf(stored) : null;
      return restored && (restored.expiresAt === null || restored.expiresAt > Date.now()) ? restored : null;
    } catch {
      return null;
    }
  });
  const signOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setSession(null);
  };
  return session ? <Console session={session} onSignOut={signOut} /> : <SignIn onSession={setSession} problem={null} />;
}

render(<App />, document.getElementById('app')!);
