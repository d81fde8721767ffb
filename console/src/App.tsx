import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { ApiError, api, mayBeSignedIn, type Me } from './api';
import { ApiKeysPage } from './pages/ApiKeys';
import { AuditPage } from './pages/Audit';
import { BrandsPage } from './pages/Brands';
import { CustomersPage } from './pages/Customers';
import { DomainsPage } from './pages/Domains';
import { JobDetailsPage } from './pages/JobDetails';
import { ProfilesPage } from './pages/Profiles';
import { QueuePage } from './pages/Queue';
import { SettingsPage } from './pages/Settings';
import { SignIn } from './pages/SignIn';
import { WebhookPage, WebhooksPage } from './pages/Webhooks';
import { Link, navigate, usePath } from './router';

const NAV = [
  { to: '/domains', label: 'Domains' },
  { to: '/queue', label: 'Bulk actions queue' },
  { to: '/settings', label: 'Push domain settings' },
  { to: '/customers', label: 'Customers' },
  { to: '/profiles', label: 'Profiles' },
  { to: '/brands', label: 'Brands' },
  { to: '/api-keys', label: 'API keys' },
  { to: '/webhooks', label: 'Webhooks' },
  { to: '/audit', label: 'Audit log' },
];

/** `null` = not signed in (401), so the sign-in form shows. */
async function fetchMe(): Promise<Me | null> {
  // No binding, no session (a cookie alone is refused): ask nothing. A signed-out page that asked
  // anyway would count as a request without a credential, which the API throttles per address.
  if (!mayBeSignedIn()) return null;
  try {
    return await api<Me>('GET', '/v1/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

function Page({ path, me }: { path: string; me: Me }) {
  const job = path.match(/^\/queue\/([0-9a-f-]{36})$/);
  if (job) return <JobDetailsPage id={job[1]} me={me} />;
  const webhook = path.match(/^\/webhooks\/([^/]+)$/);
  if (webhook) return <WebhookPage id={decodeURIComponent(webhook[1])} />;
  switch (path) {
    case '/':
    case '/domains':
      return <DomainsPage me={me} />;
    case '/queue':
      return <QueuePage me={me} />;
    case '/settings':
      return <SettingsPage />;
    case '/customers':
      return <CustomersPage />;
    case '/profiles':
      return <ProfilesPage />;
    case '/brands':
      return <BrandsPage />;
    case '/api-keys':
      return <ApiKeysPage />;
    case '/webhooks':
      return <WebhooksPage />;
    case '/audit':
      return <AuditPage />;
    default:
      return (
        <section>
          <h1>Page not found</h1>
          <p>
            <Link to="/domains">Go to Domains</Link>
          </p>
        </section>
      );
  }
}

export function App() {
  const path = usePath();
  const qc = useQueryClient();
  const me = useQuery({ queryKey: ['me'], queryFn: fetchMe, staleTime: 60_000 });
  const signOut = useMutation({
    mutationFn: () => api('DELETE', '/v1/sessions/current'),
    onSettled: () => {
      qc.clear();
      qc.setQueryData(['me'], null);
      navigate('/domains');
    },
  });
  const main = useRef<HTMLElement>(null);
  const firstPath = useRef(path);
  // After a page change (not on load), focus moves to the page so screen readers and keyboards start there.
  useEffect(() => {
    if (path !== firstPath.current) {
      firstPath.current = '';
      main.current?.focus();
    }
  }, [path]);

  if (me.isPending) return <p className="loading">Loading…</p>;
  if (me.isError) return <p role="alert">The console could not reach the API: {(me.error as Error).message}</p>;
  if (!me.data) return <SignIn />;
  const active = (to: string) =>
    path === to ||
    (to === '/domains' && path === '/') ||
    (to === '/queue' && path.startsWith('/queue/')) ||
    (to === '/webhooks' && path.startsWith('/webhooks/'));
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <div className="brand-line">
          <span className="product">domain-push</span>
          <span className="who">
            Signed in as <strong>{me.data.username}</strong>
          </span>
          <button type="button" className="secondary" onClick={() => signOut.mutate()}>
            Sign out
          </button>
        </div>
        <nav aria-label="Console">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={active(n.to) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page path={path} me={me.data} />
      </main>
    </>
  );
}
