import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import {
  ApiError,
  api,
  capitalize,
  FINISHED,
  formatDate,
  formatEta,
  type Item,
  type ItemFilters,
  itemStatusesOf,
  itemsQuery,
  type Job,
  type Kind,
  type Me,
  type Page,
  withSessionBinding,
} from '../api';
import { streamable, SUSPENDED_POLL_MS, useJobStream } from '../live';
import { OutcomeBadge, OutcomeBar, OutcomeLegend, outcomeOf, StartLine, startedAt, waitsToStart } from '../outcome';
import { Pager, trailOf } from '../pager';
import { Link, navigate, useSearch } from '../router';
import { ConfirmDialog, ErrorBox, Field, StatusBadge } from '../ui';
import { describeJob } from './Queue';

const PAGE_SIZES = [50, 100, 500];
const DEFAULT_LIMIT = 50;
/** How long typing pauses before the search applies. */
const SEARCH_DELAY_MS = 350;

/** The job page's URL state: filters, page size, the page's cursor and its number. */
interface View extends ItemFilters {
  page: number;
}

function readView(search: URLSearchParams): View {
  const limit = Number(search.get('limit'));
  const page = Number(search.get('page'));
  return {
    q: search.get('q') ?? '',
    status: search.get('status') ?? '',
    reason: search.get('reason') ?? '',
    cursor: search.get('cursor') ?? '',
    limit: PAGE_SIZES.includes(limit) ? limit : DEFAULT_LIMIT,
    page: search.get('cursor') && Number.isInteger(page) && page > 1 ? page : 1,
  };
}

function viewSearch(v: View): string {
  const p = new URLSearchParams();
  if (v.q) p.set('q', v.q);
  if (v.status) p.set('status', v.status);
  if (v.reason) p.set('reason', v.reason);
  if (v.limit && v.limit !== DEFAULT_LIMIT) p.set('limit', String(v.limit));
  if (v.cursor) {
    p.set('cursor', v.cursor);
    p.set('page', String(v.page));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function JobDetailsPage({ id, me }: { id: string; me: Me }) {
  const qc = useQueryClient();
  const { search, state } = useSearch();
  const view = readView(search);
  const trail = trailOf(state);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [rescheduling, setRescheduling] = useState(false);
  // The kinds' item statuses and reason codes in words, for the filters (they change only with a deploy).
  const kinds = useQuery({
    queryKey: ['kinds'],
    queryFn: () => api<{ items: Kind[] }>('GET', '/v1/kinds'),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const fetched = useQuery({
    queryKey: ['job', id],
    queryFn: () => api<Job>('GET', `/v1/jobs/${id}`),
    // A suspended job is not streamed (its stream ends at once): a slow poll sees a resume made elsewhere.
    refetchInterval: (q) => (q.state.data?.status === 'suspended' ? SUSPENDED_POLL_MS : false),
  });
  const active = streamable(fetched.data);
  useJobStream(id, active);
  const job = fetched.data;
  const filters: ItemFilters = { q: view.q, status: view.status, reason: view.reason, cursor: view.cursor, limit: view.limit };
  const items = useQuery({
    queryKey: ['items', id, filters],
    queryFn: () => api<Page<Item>>('GET', `/v1/jobs/${id}/items?${itemsQuery(filters)}`),
    refetchInterval: active ? 3_000 : false,
  });
  const control = useMutation({
    mutationFn: (action: 'cancel' | 'suspend' | 'resume') => api<{ status: string }>('POST', `/v1/jobs/${id}/${action}`),
    onSuccess: () => {
      setConfirmCancel(false);
      qc.invalidateQueries({ queryKey: ['job', id] });
      qc.invalidateQueries({ queryKey: ['items', id] });
      qc.invalidateQueries({ queryKey: ['jobs'] });
    },
  });

  /** A new view of the items: a filter change starts again at page 1 and adds a history entry unless `replace`. */
  const go = (next: Partial<View>, opts: { replace?: boolean; trail?: string[] } = {}) => {
    // Read from the URL, not this render: a search applied after a pause must not undo a filter set meanwhile.
    const view = readView(new URLSearchParams(window.location.search));
    const trail = trailOf(window.history.state);
    const filterChanged = (['q', 'status', 'reason', 'limit'] as const).some((k) => k in next && next[k] !== view[k]);
    const v: View = { ...view, ...next };
    if (filterChanged) {
      v.cursor = '';
      v.page = 1;
    }
    navigate(`/queue/${id}${viewSearch(v)}`, {
      replace: opts.replace,
      scroll: false,
      state: { trail: filterChanged ? [] : (opts.trail ?? trail) },
    });
  };

  if (fetched.error) return <ErrorBox error={fetched.error} />;
  if (!job) return <p className="loading">Loading…</p>;
  const mine = job.losing_reseller === me.username;
  const name = describeJob(job, me);
  const outcome = outcomeOf(job);
  const started = startedAt(job);
  const notStarted = !started && ['scheduled', 'queued', 'suspended'].includes(job.status);
  const rows = items.data?.items ?? [];
  const filtered = !!(view.q || view.status || view.reason);
  const csvHref = withSessionBinding(`/v1/jobs/${id}/items?${itemsQuery(filters, { csv: true })}`);
  const waiting = waitsToStart(job);
  const canReschedule = mine && notStarted && (job.status === 'scheduled' || job.status === 'suspended');
  const controls = mine && (
    <>
      <div className="actions">
        {(job.status === 'scheduled' || job.status === 'queued' || job.status === 'running') && (
          <button type="button" className="secondary" onClick={() => control.mutate('suspend')} disabled={control.isPending}>
            Suspend
          </button>
        )}
        {job.status === 'suspended' && (
          <button type="button" className="secondary" onClick={() => control.mutate('resume')} disabled={control.isPending}>
            Resume
          </button>
        )}
        {canReschedule && !rescheduling && (
          <button type="button" className="secondary" onClick={() => setRescheduling(true)}>
            Reschedule
          </button>
        )}
        {!FINISHED.includes(job.status) && job.status !== 'cancelling' && (
          <button type="button" className="danger" onClick={() => setConfirmCancel(true)}>
            {notStarted ? 'Stop' : 'Cancel'}
          </button>
        )}
      </div>
      <ErrorBox error={control.error} />
      {canReschedule && rescheduling && <Reschedule job={job} onClose={() => setRescheduling(false)} />}
    </>
  );
  // The job's kind lists its statuses and reasons; without the list (not loaded, or refused) the job's own statuses serve.
  const kind = kinds.data?.items.find((k) => k.name === job.kind);
  const statuses = [...(kind?.statuses ?? itemStatusesOf(job))];
  if (view.status && !statuses.includes(view.status)) statuses.push(view.status);
  const reasons = new Map((kind?.reasons ?? []).map((r) => [r.code, r.text]));
  if (view.reason && !reasons.has(view.reason)) reasons.set(view.reason, '');
  const Units = capitalize(job.labels.units);

  return (
    <section aria-labelledby="job-title" className="job-details">
      <p>
        <Link to="/queue">← Bulk actions queue</Link>
      </p>
      <h1 id="job-title">
        {name} <OutcomeBadge job={job} />
      </h1>
      {job.status !== 'scheduled' && outcome.text.toLowerCase() !== outcome.label.toLowerCase() && (
        <p className="outcome-line">{capitalize(outcome.text)}</p>
      )}

      {waiting && (
        <div className="panel schedule-panel">
          <h2>{job.status === 'suspended' ? 'Suspended before it started' : 'Waiting to start'}</h2>
          <p>
            <StartLine job={job} />. Nothing has moved yet.
          </p>
          {controls}
        </div>
      )}

      <dl className="facts">
        <Fact label="Status">
          <span className="status-word">{job.status}</span>
        </Fact>
        <Fact label="Job">
          <code>{job.id}</code>
        </Fact>
        <Fact label={Units}>{job.total.toLocaleString('en-US')}</Fact>
        <Fact label="Submitted">{formatDate(job.created_at)}</Fact>
        <Fact label="Submitted by">{submittedBy(job)}</Fact>
        <Fact label="Started">{started ? formatDate(started) : FINISHED.includes(job.status) ? 'Never' : 'Not yet'}</Fact>
        <Fact label="Finished">{formatDate(job.finished_at)}</Fact>
        {job.status === 'running' && <Fact label="ETA">{formatEta(job.eta_seconds)}</Fact>}
      </dl>
      {mine && (
        <p>
          <Link to={`/audit?target=${encodeURIComponent(`bulk_job:${job.id}`)}`}>History of this job</Link>: who submitted, rescheduled,
          suspended, resumed or cancelled it, when and from where (audit log).
        </p>
      )}
      <OutcomeBar job={job} label={`Progress of ${name}`} />
      <h2>Counts by status</h2>
      <OutcomeLegend job={job} />

      {!waiting && controls}
      <ConfirmDialog
        open={confirmCancel}
        title={notStarted ? 'Stop this job before it starts?' : 'Cancel this job?'}
        confirmLabel={notStarted ? 'Yes, stop it' : 'Yes, cancel the job'}
        cancelLabel={notStarted ? 'Keep it scheduled' : 'Keep it running'}
        busy={control.isPending}
        onConfirm={() => control.mutate('cancel')}
        onClose={() => setConfirmCancel(false)}
      >
        {notStarted ? (
          <p>Nothing has moved yet: every {job.labels.unit} stays as it is, and every item ends cancelled.</p>
        ) : (
          <p>
            No further {job.labels.unit} will start. {Units} already {job.done_status} stay {job.done_status} (this cannot be undone); every{' '}
            {job.labels.unit} not started ends cancelled.
          </p>
        )}
      </ConfirmDialog>

      <Options job={job} />

      <h2 id="items-title">Items</h2>
      <form className="filters" aria-label="Filter items" onSubmit={(e) => e.preventDefault()}>
        <SearchField label={`Search ${job.labels.units}`} value={view.q ?? ''} onSearch={(q, replace) => go({ q }, { replace })} />
        <Field label="Show items with status">
          {(p) => (
            <select {...p} value={view.status} onChange={(e) => go({ status: e.target.value })}>
              <option value="">Any status</option>
              {statuses.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Show items with reason">
          {(p) => (
            <select {...p} value={view.reason} onChange={(e) => go({ reason: e.target.value })}>
              <option value="">Any reason</option>
              {[...reasons].map(([code, text]) => (
                <option key={code} value={code}>
                  {code}
                  {text ? ` — ${text}` : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Per page">
          {(p) => (
            <select {...p} value={view.limit} onChange={(e) => go({ limit: Number(e.target.value) })}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          )}
        </Field>
        {filtered && (
          <button type="button" className="secondary" onClick={() => go({ q: '', status: '', reason: '' })}>
            Clear filters
          </button>
        )}
        <a className="button secondary" href={csvHref} download>
          Download CSV{filtered ? ' (filtered)' : ''}
        </a>
      </form>
      <p className="result-status" role="status">
        {items.isPending ? 'Loading…' : items.error ? '' : resultLine(rows.length, view, !!items.data?.next_cursor)}
      </p>
      <ErrorBox error={items.error} />
      <div className="table-wrap">
        <table aria-busy={items.isPending} className="items">
          <caption className="visually-hidden">Items of this job</caption>
          <thead>
            <tr>
              <th scope="col">{capitalize(job.labels.unit)}</th>
              <th scope="col">Status</th>
              <th scope="col">Reason</th>
              <th scope="col" className="wide-only">
                Message
              </th>
              <th scope="col" className="wide-only">
                Was locked
              </th>
              <th scope="col" className="wide-only">
                Finished
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((i) => (
              <tr key={i.domain}>
                <td className="domain">{i.domain}</td>
                <td>
                  <StatusBadge status={i.status} tone={i.status === job.done_status ? 'done' : undefined} />
                </td>
                <td>
                  {i.reason ?? ''}
                  {/* At 390 px the message and lock columns are hidden: their words go under the reason. */}
                  {(i.message || i.was_locked) && (
                    <span className="narrow-only note">
                      {[i.message, i.was_locked ? `Was locked: ${wasLocked(i)}` : ''].filter(Boolean).join(' · ')}
                    </span>
                  )}
                </td>
                <td className="wide-only">{i.message ?? ''}</td>
                <td className="wide-only">{wasLocked(i)}</td>
                <td className="wide-only">{formatDate(i.finished_at)}</td>
              </tr>
            ))}
            {items.isPending && (
              <tr>
                <td colSpan={6}>Loading…</td>
              </tr>
            )}
            {rows.length === 0 && items.isSuccess && (
              <tr>
                <td colSpan={6}>{filtered ? 'No items match these filters.' : 'No items.'}</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager
        label="Pages of items"
        view={{ cursor: view.cursor ?? '', page: view.page }}
        trail={trail}
        nextCursor={items.data?.next_cursor}
        onPage={(page, t) => go(page, { trail: t })}
      />
    </section>
  );
}

function wasLocked(i: Item): string {
  return i.was_locked ? (i.relocked ? 'yes, relocked' : 'yes') : 'no';
}

function resultLine(n: number, view: View, more: boolean): string {
  const first = (view.page - 1) * (view.limit ?? DEFAULT_LIMIT) + 1;
  if (n === 0) return view.page > 1 ? `Page ${view.page} is empty.` : 'No items to show.';
  // The first figure is right when the pages before were of the same size (they are, unless the size changed mid-way).
  return `Showing items ${first.toLocaleString('en-US')}–${(first + n - 1).toLocaleString('en-US')}${more ? ', more on the next page' : ''}.`;
}

/** The search box: applies after a pause in typing; the first letters add a history entry, the rest rewrite it. */
function SearchField({ label, value, onSearch }: { label: string; value: string; onSearch: (q: string, replace: boolean) => void }) {
  const [draft, setDraft] = useState(value);
  const typing = useRef(false);
  const timer = useRef<number>(undefined);
  const applied = useRef(value);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  // The URL changed from elsewhere (back/forward, Clear filters): show its search.
  useEffect(() => {
    if (value !== applied.current) {
      applied.current = value;
      window.clearTimeout(timer.current);
      setDraft(value);
    }
  }, [value]);
  const apply = (q: string) => {
    window.clearTimeout(timer.current);
    const next = q.trim();
    if (next === applied.current) return;
    applied.current = next;
    onSearch(next, typing.current);
    typing.current = true;
  };
  return (
    <Field label={label} hint="Part of a name">
      {(p) => (
        <input
          {...p}
          type="search"
          value={draft}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => {
            const q = e.target.value;
            setDraft(q);
            window.clearTimeout(timer.current);
            timer.current = window.setTimeout(() => apply(q), SEARCH_DELAY_MS);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              apply(draft);
            }
          }}
          onBlur={() => {
            typing.current = false;
          }}
        />
      )}
    </Field>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function submittedBy(job: Job): ReactNode {
  const s = job.submitted_by;
  if (!s) return 'Not recorded';
  const key = s.key_prefix ? <code>{s.key_prefix}…</code> : null;
  if (s.via === 'session') return <>The console{key && <> (signed in with key {key})</>}</>;
  return <>The API{key && <> with key {key}</>}</>;
}

/**
 * The options the job ran with, in words: the kind's own (`details`, as the API words them), then
 * what every job has (its results email and its schedule).
 */
function Options({ job }: { job: Job }) {
  const o = job.options ?? {};
  return (
    <>
      <h2>{FINISHED.includes(job.status) ? 'Options this job ran with' : 'Options of this job'}</h2>
      <dl className="options">
        {job.details.map((d) => (
          <Fact key={d.label} label={d.label}>
            {d.value}
          </Fact>
        ))}
        {o.email_results_to !== undefined && <Fact label="Results email">{o.email_results_to ?? 'No email'}</Fact>}
        <Fact label="Schedule">{schedule(job)}</Fact>
      </dl>
    </>
  );
}

/** What the submitter asked for, and when it actually started. */
function schedule(job: Job): string {
  const o = job.options ?? {};
  const asked =
    o.start_at_requested === 'next_cycle'
      ? "At the gaining reseller's next billing cycle"
      : o.start_at_requested
        ? `At ${formatDate(o.start_at_requested)}`
        : o.start_after_seconds
          ? `After a ${o.start_after_seconds} s grace window`
          : 'At once';
  // The actual start when it is not the one asked for (a grace window, the next cycle, a reschedule).
  const asAsked = !!job.start_at && !!o.start_at_requested && new Date(o.start_at_requested).getTime() === new Date(job.start_at).getTime();
  const started = startedAt(job);
  const actual = started
    ? `started ${formatDate(started)}`
    : FINISHED.includes(job.status)
      ? 'never started'
      : job.start_at && !asAsked
        ? `starts ${formatDate(job.start_at)}`
        : 'not started yet';
  return `${asked}; ${actual}`;
}

/** A new start time for a job that has not started: a time, the next billing cycle, or now. */
function Reschedule({ job, onClose }: { job: Job; onClose: () => void }) {
  const qc = useQueryClient();
  const [when, setWhen] = useState<'at' | 'next_cycle' | 'now'>('at');
  const [at, setAt] = useState(() => localInput(job.start_at ?? new Date(Date.now() + 3_600_000).toISOString()));
  const save = useMutation({
    mutationFn: () => api<Job>('POST', `/v1/jobs/${job.id}/reschedule`, { start_at: when === 'at' ? new Date(at).toISOString() : when }),
    onSuccess: (view) => {
      onClose();
      if (view?.id) qc.setQueryData(['job', job.id], view);
      qc.invalidateQueries({ queryKey: ['job', job.id] });
      qc.invalidateQueries({ queryKey: ['jobs'] });
    },
  });
  const heading = useRef<HTMLHeadingElement>(null);
  // The form takes the focus when it opens, as the button that opened it is gone.
  useEffect(() => heading.current?.focus(), []);
  const fieldError = save.error instanceof ApiError ? save.error.fieldMessages().start_at : undefined;
  return (
    <form
      className="panel reschedule"
      aria-labelledby="reschedule-title"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <h2 id="reschedule-title" ref={heading} tabIndex={-1}>
        Reschedule
      </h2>
      <fieldset>
        <legend>Start</legend>
        <label className="inline">
          <input type="radio" name="when" checked={when === 'at'} onChange={() => setWhen('at')} /> At a time
        </label>
        {when === 'at' && (
          <div className="subfields">
            <Field label="Start at (your time)" hint="Up to 30 days ahead" error={fieldError}>
              {(p) => <input {...p} type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} required />}
            </Field>
          </div>
        )}
        <label className="inline">
          <input type="radio" name="when" checked={when === 'next_cycle'} onChange={() => setWhen('next_cycle')} /> At the gaining
          reseller's next billing cycle
        </label>
        <label className="inline">
          <input type="radio" name="when" checked={when === 'now'} onChange={() => setWhen('now')} /> Now
        </label>
      </fieldset>
      <ErrorBox error={save.error} />
      <div className="actions">
        <button type="submit" disabled={save.isPending}>
          Save new start
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Keep the current start
        </button>
      </div>
    </form>
  );
}

/** An ISO time as a datetime-local input's value, in the browser's time zone. */
function localInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
