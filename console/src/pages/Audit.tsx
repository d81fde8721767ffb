import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { api, formatDate, type Page, withSessionBinding } from '../api';
import type { AuditEntry } from '../api-types';
import { goToPage, Pager, type PageView, readPage, trailOf } from '../pager';
import { useSearch } from '../router';
import { ErrorBox, Field } from '../ui';

const PER_PAGE = 50;

/** The action filter: a prefix (`customer.`) takes every action of that resource. */
const ACTIONS: [prefix: string, words: string][] = [
  ['bulk_job.', 'Bulk jobs: submit, cancel, suspend, resume, reschedule'],
  ['customer.', 'Customers and releases'],
  ['package.', 'Service packages'],
  ['domain.', 'Domains: contacts'],
  ['profile.', 'Profiles'],
  ['brand.', 'Brands'],
  ['push_settings.', 'Push domain settings'],
  ['api_key.', 'API keys'],
  ['webhook.', 'Webhooks'],
  ['session.', 'Console sign-in and sign-out'],
  ['reseller.', 'Your account (by the operator)'],
];

/** Who acted: a kind of credential, or the beginning of a key typed in the field. */
const ACTOR_WORDS: Record<AuditEntry['actor']['kind'], string> = {
  api_key: 'API key',
  session: 'Console',
  operator: 'Operator',
  claim_link: 'Claim link',
};

interface Filters {
  action: string;
  actor: string;
  /** Days (YYYY-MM-DD), both included. */
  from: string;
  to: string;
  /** One target's history (`bulk_job:<id>`, from a job page's History link), or a target type. */
  target: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const TARGET = /^[a-z_]{1,40}(:[A-Za-z0-9_-]{1,200})?$/;

function readFilters(search: URLSearchParams): Filters {
  const day = (k: string) => {
    const v = search.get(k) ?? '';
    return DAY.test(v) ? v : '';
  };
  const target = search.get('target') ?? '';
  return {
    action: search.get('action') ?? '',
    actor: (search.get('actor') ?? '').trim(),
    from: day('from'),
    to: day('to'),
    target: TARGET.test(target) ? target : '',
  };
}

/** The day after `day` (the API's `to` is exclusive; the page's "until" includes its day). */
function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** The API's query for the filters: days as UTC days (the entries' times are UTC). */
function auditQuery(f: Filters): URLSearchParams {
  const p = new URLSearchParams();
  if (f.action) p.set('action', f.action);
  if (f.actor) p.set('actor', f.actor);
  if (f.from) p.set('from', f.from);
  if (f.to) p.set('to', nextDay(f.to));
  if (f.target) p.set('target', f.target);
  return p;
}

/** `{fields: ['email'], enabled: false}` → "fields: email · enabled: false". */
function summaryText(summary: Record<string, unknown>): string {
  return Object.entries(summary)
    .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}

function actorText(a: AuditEntry['actor']): string {
  return `${ACTOR_WORDS[a.kind] ?? a.kind}${a.id ? ` ${a.id}` : ''}`;
}

/**
 * "Audit log": every change made in the reseller's account (by its keys, its console sessions or
 * the operator), newest first, with who, from where, what and a summary; filters and the page in
 * the URL; the same filtered list as a CSV download.
 */
export function AuditPage() {
  const { search, state } = useSearch();
  const filters = readFilters(search);
  const view = readPage(search);
  const trail = trailOf(state);
  const [actor, setActor] = useState(filters.actor);
  // The URL changed from elsewhere (back/forward, Clear filters): the field shows its actor.
  useEffect(() => setActor(filters.actor), [filters.actor]);
  const query = auditQuery(filters);
  const entries = useQuery({
    queryKey: ['audit', query.toString(), view.cursor],
    queryFn: () => {
      const p = new URLSearchParams(query);
      p.set('limit', String(PER_PAGE));
      if (view.cursor) p.set('cursor', view.cursor);
      return api<Page<AuditEntry>>('GET', `/v1/audit?${p}`);
    },
  });
  const go = (next: Partial<Filters>, page: PageView = { cursor: '', page: 1 }, t: string[] = []) =>
    goToPage('/audit', { ...filters, ...next }, page, { trail: t });
  const filtered = !!(filters.action || filters.actor || filters.from || filters.to || filters.target);
  const rows = entries.data?.items ?? [];
  const csvHref = withSessionBinding(`/v1/audit.csv${query.toString() ? `?${query}` : ''}`);
  const actions = ACTIONS.some(([a]) => a === filters.action) || !filters.action ? ACTIONS : [...ACTIONS, [filters.action, filters.action]];

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <p className="lead">
        Every change made in your account, newest first: who made it (which API key, a console session, or the operator), from which
        address, what changed. Entries cannot be edited or deleted.
      </p>
      {filters.target && (
        <p className="notice">
          Only the history of <code>{filters.target.replace(':', ' ')}</code>: every change made to it, newest first.
        </p>
      )}
      <form
        className="filters"
        aria-label="Filter the audit log"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          go({ actor: actor.trim() });
        }}
      >
        <Field label="Action">
          {(p) => (
            <select {...p} value={filters.action} onChange={(e) => go({ action: e.target.value })}>
              <option value="">Any action</option>
              {actions.map(([code, words]) => (
                <option key={code} value={code}>
                  {words}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Who" hint="api_key, session, operator, or a key's beginning">
          {(p) => (
            <input
              {...p}
              type="search"
              autoComplete="off"
              spellCheck={false}
              value={actor}
              onChange={(e) => setActor(e.target.value)}
              onBlur={() => actor.trim() !== filters.actor && go({ actor: actor.trim() })}
            />
          )}
        </Field>
        <Field label="From (UTC day)">
          {(p) => (
            <input {...p} type="date" value={filters.from} max={filters.to || undefined} onChange={(e) => go({ from: e.target.value })} />
          )}
        </Field>
        <Field label="Until (UTC day, included)">
          {(p) => (
            <input {...p} type="date" value={filters.to} min={filters.from || undefined} onChange={(e) => go({ to: e.target.value })} />
          )}
        </Field>
        <button type="submit" className="secondary">
          Show entries
        </button>
        {filtered && (
          <button type="button" className="secondary" onClick={() => go({ action: '', actor: '', from: '', to: '', target: '' })}>
            Clear filters
          </button>
        )}
        <a className="button secondary" href={csvHref} download>
          Download CSV{filtered ? ' (filtered)' : ''}
        </a>
      </form>
      <p className="result-status" role="status">
        {entries.isPending ? 'Loading…' : entries.error ? '' : resultLine(rows.length, view, !!entries.data?.next_cursor)}
      </p>
      <ErrorBox error={entries.error} />
      <div className="table-wrap">
        <table className="audit" aria-busy={entries.isPending}>
          <caption className="visually-hidden">Audit log entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col" className="wide-only">
                Time
              </th>
              <th scope="col">Action</th>
              <th scope="col" className="wide-only">
                Who
              </th>
              <th scope="col" className="wide-only">
                Address
              </th>
              <th scope="col" className="wide-only">
                Target
              </th>
              <th scope="col" className="wide-only">
                Summary
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((a) => {
              const target = `${a.target.type}${a.target.id ? ` ${a.target.id}` : ''}`;
              const summary = summaryText(a.summary);
              return (
                <tr key={a.id} data-entry-id={a.id}>
                  <td className="when wide-only">{formatDate(a.at)}</td>
                  <td>
                    <code>{a.action}</code>
                    {/* At 390 px the other columns are hidden: their words go under the action. */}
                    <span className="narrow-only note">
                      {formatDate(a.at)} · {actorText(a.actor)}
                    </span>
                    <span className="narrow-only note">{[target, a.address, summary].filter(Boolean).join(' · ')}</span>
                  </td>
                  <td className="actor wide-only">{actorText(a.actor)}</td>
                  <td className="wide-only">{a.address ?? '—'}</td>
                  <td className="wide-only">{target}</td>
                  <td className="wide-only summary">{summary}</td>
                </tr>
              );
            })}
            {rows.length === 0 && entries.isSuccess && (
              <tr>
                <td colSpan={6}>{filtered ? 'No entry matches these filters.' : 'No entries yet.'}</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager
        label="Pages of the audit log"
        view={view}
        trail={trail}
        nextCursor={entries.data?.next_cursor}
        onPage={(page, t) => go({}, page, t)}
      />
    </section>
  );
}

function resultLine(n: number, view: PageView, more: boolean): string {
  if (n === 0) return view.page > 1 ? `Page ${view.page} is empty.` : '';
  const first = (view.page - 1) * PER_PAGE + 1;
  return `Showing entries ${first.toLocaleString('en-US')}–${(first + n - 1).toLocaleString('en-US')}${more ? ', more on the next page' : ''}.`;
}
