import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, type ReactNode, useState } from 'react';
import { ApiError, api, formatDate, type Page } from '../api';
import type { WebhookDelivery, WebhookEndpoint, WebhookEndpointCreated } from '../api-types';
import { goToPage, Pager, readPage, trailOf } from '../pager';
import { Link, navigate, useSearch } from '../router';
import { ConfirmDialog, CopyValue, ErrorBox, Field, StatusBadge } from '../ui';

type EventType = WebhookEndpoint['event_types'][number];

/**
 * Each event type the API sends, in words. A Record over the API's own enum: a new event type
 * fails the console's type check until it is worded here.
 */
const EVENTS: Record<EventType, string> = {
  'bulk_job.scheduled': 'A bulk job is scheduled to start later',
  'bulk_job.started': 'A bulk job starts',
  'bulk_job.finished': 'A bulk job ends, with its outcome and counts',
  'domain.pushed_in': 'Domains arrive in your account (one event per batch)',
  'domain.pushed_out': 'Domains leave your account (one event per batch)',
  'push_authorization.changed': 'A reseller is allowed, or no longer allowed, to send you domains',
  'customer.released': 'A customer is released',
  'api_key.created': 'An API key is created',
  'api_key.revoked': 'An API key is revoked',
};
const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

/** What the endpoint's state says to a person. */
function endpointState(e: WebhookEndpoint): { word: string; tone: string; note: string } {
  if (!e.enabled) return { word: 'disabled', tone: 'cancelled', note: e.disabled_reason ?? '' };
  if (e.failing_since) return { word: 'failing', tone: 'skipped', note: `Failing since ${formatDate(e.failing_since)}` };
  return { word: 'enabled', tone: 'active', note: '' };
}

/** The API's refusal of a URL, said by the URL field; other field errors by their own field. */
function fieldErrors(error: unknown): { url?: string; events?: string; other?: unknown } {
  if (!(error instanceof ApiError)) return { other: error };
  if (['invalid_url', 'insecure_url', 'private_address'].includes(error.code)) return { url: error.message };
  const fields = Object.entries(error.fieldMessages());
  const url = fields.find(([k]) => k === 'url')?.[1];
  const events = fields.find(([k]) => k.startsWith('event_types'))?.[1];
  return url || events ? { url, events } : { other: error };
}

/**
 * "Webhooks": the reseller's endpoints, one added with its URL and event types (its signing
 * secret shown once, with a copy button), enabled or disabled, deleted after a confirmation;
 * each endpoint's delivery log is its own page (WebhookPage).
 */
export function WebhooksPage() {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ['webhooks'], queryFn: () => api<Page<WebhookEndpoint>>('GET', '/v1/webhooks?limit=100') });
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<EventType[]>([]);
  const [noEvents, setNoEvents] = useState(false);
  const [deleting, setDeleting] = useState<WebhookEndpoint | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['webhooks'] });
  const create = useMutation({
    // The secret lives only in this page's state: gone once hidden or the page is left.
    gcTime: 0,
    mutationFn: () =>
      api<WebhookEndpointCreated>('POST', '/v1/webhooks', {
        url: url.trim(),
        event_types: events,
        ...(description.trim() ? { description: description.trim() } : {}),
      }),
    onSuccess: () => {
      setUrl('');
      setDescription('');
      setEvents([]);
      refresh();
    },
  });
  const toggle = useMutation({
    mutationFn: (e: WebhookEndpoint) => api<WebhookEndpoint>('PATCH', `/v1/webhooks/${encodeURIComponent(e.id)}`, { enabled: !e.enabled }),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (e: WebhookEndpoint) => api('DELETE', `/v1/webhooks/${encodeURIComponent(e.id)}`),
    onSuccess: () => {
      setDeleting(null);
      refresh();
    },
  });
  const fresh = create.data;
  const errors = fieldErrors(create.error);
  const items = list.data?.items ?? [];

  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      <p className="lead">
        Your own systems are told when something happens in your account: a bulk job is scheduled, starts or ends, domains arrive or leave,
        a customer is released, a key is created. Each request is signed with the endpoint's secret (the <code>Webhook-Signature</code>{' '}
        header); failed deliveries are retried, and you can send one again from its log.
      </p>

      {fresh && (
        <section className="panel" aria-labelledby="new-secret-title">
          <h2 id="new-secret-title">Signing secret of {fresh.url}</h2>
          <p className="warning">
            <strong>This is the only time the secret is shown: you will not see it again.</strong> Copy it now into the system that receives
            the events, to check their signatures. Only its beginning, <code>{fresh.secret_prefix}…</code>, is shown from now on.
          </p>
          <CopyValue id="new-webhook-secret" value={fresh.secret} buttonLabel="Copy secret" />
          <div className="actions">
            <button type="button" onClick={() => create.reset()}>
              Done, hide the secret
            </button>
          </div>
        </section>
      )}

      <h2>Add an endpoint</h2>
      <form
        className="panel endpoint-form"
        aria-label="Add an endpoint"
        noValidate
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          setNoEvents(events.length === 0);
          if (events.length === 0) return;
          create.mutate();
        }}
      >
        <Field label="URL" hint="https://…, where your system listens for the events" error={errors.url}>
          {(p) => (
            <input
              {...p}
              type="url"
              inputMode="url"
              autoComplete="off"
              spellCheck={false}
              required
              value={url}
              onChange={(e) => setUrl(e.target.value)}
            />
          )}
        </Field>
        <Field label="Description (optional)" hint="What receives them, e.g. CRM or billing.">
          {(p) => <input {...p} maxLength={200} value={description} onChange={(e) => setDescription(e.target.value)} />}
        </Field>
        <fieldset
          className="events"
          aria-describedby={noEvents || errors.events ? 'events-error' : undefined}
          aria-invalid={noEvents || errors.events ? true : undefined}
        >
          <legend>Events to send</legend>
          {EVENT_TYPES.map((t) => (
            <label key={t} className="inline event">
              <input
                type="checkbox"
                checked={events.includes(t)}
                onChange={(e) => {
                  setNoEvents(false);
                  setEvents(e.target.checked ? [...events, t] : events.filter((x) => x !== t));
                }}
              />{' '}
              <span>
                <code>{t}</code> <span className="sub">{EVENTS[t]}</span>
              </span>
            </label>
          ))}
          {(noEvents || errors.events) && (
            <p className="field-error" id="events-error" role="alert">
              {noEvents ? 'Choose at least one event.' : errors.events}
            </p>
          )}
        </fieldset>
        <ErrorBox error={errors.other} />
        <div className="actions">
          <button type="submit" disabled={create.isPending}>
            Add endpoint
          </button>
        </div>
      </form>

      <h2>Your endpoints</h2>
      <ErrorBox error={list.error} />
      <ErrorBox error={toggle.error} />
      {list.isPending && <p className="loading">Loading…</p>}
      {list.data && (
        <div className="table-wrap">
          <table className="endpoints">
            <caption className="visually-hidden">Your webhook endpoints</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col" className="wide-only">
                  Events
                </th>
                <th scope="col">Status</th>
                <th scope="col" className="wide-only">
                  Secret
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => {
                const state = endpointState(e);
                return (
                  <tr key={e.id} data-endpoint-id={e.id}>
                    <td className="endpoint-url">
                      <code>{e.url}</code>
                      {e.description && <div>{e.description}</div>}
                      <span className="narrow-only note">
                        {e.event_types.length} event{e.event_types.length === 1 ? '' : 's'}
                      </span>
                    </td>
                    <td className="wide-only">
                      <ul className="plain">
                        {e.event_types.map((t) => (
                          <li key={t}>
                            <code>{t}</code>
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>
                      <StatusBadge status={state.word} tone={state.tone} />
                      {state.note && <div className="sub">{state.note}</div>}
                    </td>
                    <td className="wide-only">
                      <code>{e.secret_prefix}…</code>
                    </td>
                    <td>
                      <div className="row-actions">
                        <Link to={`/webhooks/${encodeURIComponent(e.id)}`} aria-label={`Delivery log of ${e.url}`}>
                          Delivery log
                        </Link>
                        <button
                          type="button"
                          className="secondary small"
                          aria-label={`${e.enabled ? 'Disable' : 'Enable'} ${e.url}`}
                          disabled={toggle.isPending}
                          onClick={() => toggle.mutate(e)}
                        >
                          {e.enabled ? 'Disable' : 'Enable'}
                        </button>
                        <button
                          type="button"
                          className="danger small"
                          aria-label={`Delete ${e.url}`}
                          onClick={() => {
                            remove.reset();
                            setDeleting(e);
                          }}
                        >
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
              {items.length === 0 && (
                <tr>
                  <td colSpan={5}>No endpoint yet: add one above to be told of events.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}

      <DeleteEndpoint
        endpoint={deleting}
        busy={remove.isPending}
        error={remove.error}
        onConfirm={remove.mutate}
        onClose={() => setDeleting(null)}
      />
    </section>
  );
}

function DeleteEndpoint({
  endpoint,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  endpoint: WebhookEndpoint | null;
  busy: boolean;
  error: unknown;
  onConfirm: (e: WebhookEndpoint) => void;
  onClose: () => void;
}) {
  return (
    <ConfirmDialog
      open={endpoint !== null}
      title={endpoint ? `Delete the endpoint ${endpoint.url}?` : 'Delete the endpoint?'}
      confirmLabel="Delete endpoint"
      cancelLabel="Keep endpoint"
      busy={busy}
      onConfirm={() => endpoint && onConfirm(endpoint)}
      onClose={onClose}
    >
      <p>
        No event is sent to it any more, deliveries still waiting are dropped, and its delivery log goes with it. This cannot be undone: to
        receive events there again, add it again (with a new secret).
      </p>
      <ErrorBox error={error} />
    </ConfirmDialog>
  );
}

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
const DELIVERY_TONE: Record<WebhookDelivery['status'], string> = { pending: 'queued', delivered: 'done', failed: 'failed' };
const DELIVERIES_PER_PAGE = 25;

/** One endpoint: its state, enable/disable/delete, and its delivery log with a status filter, paged in the URL. */
export function WebhookPage({ id }: { id: string }) {
  const qc = useQueryClient();
  const { search, state } = useSearch();
  const status = DELIVERY_STATUSES.find((s) => s === search.get('status')) ?? '';
  const view = readPage(search);
  const trail = trailOf(state);
  const path = `/webhooks/${encodeURIComponent(id)}`;
  const [deleting, setDeleting] = useState(false);
  const [redelivered, setRedelivered] = useState('');
  const endpoint = useQuery({
    queryKey: ['webhook', id],
    queryFn: () => api<WebhookEndpoint>('GET', `/v1/webhooks/${encodeURIComponent(id)}`),
  });
  const deliveries = useQuery({
    queryKey: ['webhook-deliveries', id, status, view.cursor],
    queryFn: () => {
      const p = new URLSearchParams({ limit: String(DELIVERIES_PER_PAGE) });
      if (status) p.set('status', status);
      if (view.cursor) p.set('cursor', view.cursor);
      return api<Page<WebhookDelivery>>('GET', `/v1/webhooks/${encodeURIComponent(id)}/deliveries?${p}`);
    },
    // Retries happen on the server: while a delivery waits for one, the log is read again.
    refetchInterval: (q) => (q.state.data?.items.some((d) => d.status === 'pending') ? 5_000 : false),
  });
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ['webhook', id] });
    qc.invalidateQueries({ queryKey: ['webhook-deliveries', id] });
    qc.invalidateQueries({ queryKey: ['webhooks'] });
  };
  const toggle = useMutation({
    mutationFn: (e: WebhookEndpoint) => api<WebhookEndpoint>('PATCH', `/v1/webhooks/${encodeURIComponent(e.id)}`, { enabled: !e.enabled }),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (e: WebhookEndpoint) => api('DELETE', `/v1/webhooks/${encodeURIComponent(e.id)}`),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ['webhooks'] });
      navigate('/webhooks');
    },
  });
  const redeliver = useMutation({
    mutationFn: (d: WebhookDelivery) =>
      api<WebhookDelivery>('POST', `/v1/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(d.id)}/redeliver`),
    onSuccess: (d) => {
      setRedelivered(`${d.event_type} (${d.event_id}) is queued again: it is sent as soon as a worker can.`);
      refresh();
    },
  });

  if (endpoint.error) {
    return (
      <section>
        <p>
          <Link to="/webhooks">← Webhooks</Link>
        </p>
        <ErrorBox error={endpoint.error} />
      </section>
    );
  }
  const e = endpoint.data;
  if (!e) return <p className="loading">Loading…</p>;
  const st = endpointState(e);
  const rows = deliveries.data?.items ?? [];

  return (
    <section aria-labelledby="webhook-title" className="webhook">
      <p>
        <Link to="/webhooks">← Webhooks</Link>
      </p>
      <h1 id="webhook-title" className="endpoint-title">
        {e.url} <StatusBadge status={st.word} tone={st.tone} />
      </h1>
      {st.note && <p className="outcome-line">{st.note}</p>}
      <dl className="facts">
        <Fact label="Description">{e.description ?? '—'}</Fact>
        <Fact label="Secret">
          <code>{e.secret_prefix}…</code>
        </Fact>
        <Fact label="Added">{formatDate(e.created_at)}</Fact>
        <Fact label="Events">
          {e.event_types.map((t, i) => (
            <span key={t}>
              {i > 0 && ', '}
              <code>{t}</code>
            </span>
          ))}
        </Fact>
      </dl>
      <div className="actions">
        <button type="button" className="secondary" disabled={toggle.isPending} onClick={() => toggle.mutate(e)}>
          {e.enabled ? 'Disable' : 'Enable'}
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => {
            remove.reset();
            setDeleting(true);
          }}
        >
          Delete
        </button>
      </div>
      <ErrorBox error={toggle.error} />
      <DeleteEndpoint
        endpoint={deleting ? e : null}
        busy={remove.isPending}
        error={remove.error}
        onConfirm={remove.mutate}
        onClose={() => setDeleting(false)}
      />

      <h2 id="deliveries-title">Delivery log</h2>
      {!e.enabled && <p className="notice">The endpoint is disabled: enable it to send a delivery again.</p>}
      <form className="filters" aria-label="Filter deliveries" onSubmit={(ev) => ev.preventDefault()}>
        <Field label="Show deliveries">
          {(p) => (
            <select
              {...p}
              value={status}
              onChange={(ev) => goToPage(path, { status: ev.target.value }, { cursor: '', page: 1 }, { trail: [] })}
            >
              <option value="">All</option>
              <option value="pending">Pending (a retry is due)</option>
              <option value="delivered">Delivered</option>
              <option value="failed">Failed (given up)</option>
            </select>
          )}
        </Field>
      </form>
      <p className="result-status" role="status">
        {redelivered || (deliveries.isPending ? 'Loading…' : '')}
      </p>
      <ErrorBox error={deliveries.error} />
      <ErrorBox error={redeliver.error} />
      <div className="table-wrap">
        <table className="deliveries" aria-busy={deliveries.isPending}>
          <caption className="visually-hidden">Deliveries to this endpoint, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col" className="wide-only">
                Response
              </th>
              <th scope="col" className="wide-only">
                Duration
              </th>
              <th scope="col" className="wide-only">
                Tries
              </th>
              <th scope="col" className="wide-only">
                Next retry
              </th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-delivery-id={d.id}>
                <td>
                  <code>{d.event_type}</code>
                  <div className="sub event-id">
                    {d.event_id} · {formatDate(d.created_at)}
                  </div>
                </td>
                <td>
                  <StatusBadge status={d.status} tone={DELIVERY_TONE[d.status]} />
                  {/* At 390 px the response, duration, tries and retry columns are hidden: their words go under the status. */}
                  <span className="narrow-only note">
                    {[
                      responseText(d),
                      `${d.attempts} ${d.attempts === 1 ? 'try' : 'tries'}`,
                      d.duration_ms !== null ? `${d.duration_ms} ms` : '',
                      d.next_attempt_at ? `next retry ${formatDate(d.next_attempt_at)}` : '',
                    ]
                      .filter(Boolean)
                      .join(' · ')}
                  </span>
                  {d.last_error && <span className="narrow-only note error-text">{d.last_error}</span>}
                </td>
                <td className="wide-only">
                  {responseText(d)}
                  {d.last_error && <div className="sub error-text">{d.last_error}</div>}
                </td>
                <td className="wide-only">{d.duration_ms !== null ? `${d.duration_ms} ms` : '—'}</td>
                <td className="wide-only">{d.attempts}</td>
                <td className="wide-only">{d.next_attempt_at ? formatDate(d.next_attempt_at) : '—'}</td>
                <td>
                  <button
                    type="button"
                    className="secondary small"
                    aria-label={`Redeliver ${d.event_type} ${d.event_id}`}
                    disabled={!e.enabled || redeliver.isPending}
                    onClick={() => {
                      setRedelivered('');
                      redeliver.mutate(d);
                    }}
                  >
                    Redeliver
                  </button>
                </td>
              </tr>
            ))}
            {rows.length === 0 && deliveries.isSuccess && (
              <tr>
                <td colSpan={7}>{status ? 'No delivery with this status.' : 'Nothing was sent to this endpoint yet.'}</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager
        label="Pages of deliveries"
        view={view}
        trail={trail}
        nextCursor={deliveries.data?.next_cursor}
        onPage={(page, t) => goToPage(path, { status }, page, { trail: t })}
      />
    </section>
  );
}

/** The last try's HTTP status, or why there was none. */
function responseText(d: WebhookDelivery): string {
  if (d.response_status !== null) return String(d.response_status);
  return d.attempts ? 'No answer' : 'Not tried yet';
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
