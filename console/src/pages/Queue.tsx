import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { FINISHED, type Job, type Me, type Page, api, formatDate } from '../api';
import { streamable, useJobStream } from '../live';
import { Countdown, OutcomeBadge, OutcomeBar, outcomeOf, waitsToStart } from '../outcome';
import { Link, navigate, useSearch } from '../router';
import { ConfirmDialog, ErrorBox, Field } from '../ui';

/** Live streams per page are capped: each holds a connection, and browsers allow six per host. */
const MAX_STREAMS = 3;
/** At most this many pages of 25 jobs are shown (a hand-edited URL asks no more of the API). */
const MAX_PAGES = 40;

/** The job's title as its kind words it, from the viewer's side: the one who sent it, or the one receiving it. */
export function describeJob(job: Job, me: Me): string {
  return job.losing_reseller === me.username ? job.labels.sent_title : job.labels.received_title;
}

type Action = 'cancel' | 'suspend' | 'resume';
type Asked = { job: Job; name: string; what: 'stop' | 'reschedule' } | null;

export function QueuePage({ me }: { me: Me }) {
  const qc = useQueryClient();
  const { search } = useSearch();
  const submitted = search.get('submitted');
  // How many pages of jobs are shown ("Show older jobs") lives in the URL: a reload or back/forward shows as many.
  const pagesAsked = Number(search.get('pages'));
  const shownPages = Number.isInteger(pagesAsked) && pagesAsked > 1 ? Math.min(pagesAsked, MAX_PAGES) : 1;
  const [asked, setAsked] = useState<Asked>(null);
  const jobs = useInfiniteQuery({
    queryKey: ['jobs'],
    queryFn: ({ pageParam }) => api<Page<Job>>('GET', `/v1/jobs?limit=25${pageParam ? `&cursor=${pageParam}` : ''}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // New jobs (submitted elsewhere, or received) appear without a reload.
    refetchInterval: 5_000,
  });
  const control = useMutation({
    mutationFn: ({ job, action, body }: { job: Job; action: Action | 'reschedule'; body?: unknown }) =>
      api<unknown>('POST', `/v1/jobs/${job.id}/${action}`, body),
    onSuccess: () => {
      setAsked(null);
      qc.invalidateQueries({ queryKey: ['jobs'] });
    },
  });
  const loadedPages = jobs.data?.pages.length ?? 0;
  useEffect(() => {
    if (loadedPages > 0 && loadedPages < shownPages && jobs.hasNextPage && !jobs.isFetchingNextPage) jobs.fetchNextPage();
  }, [loadedPages, shownPages, jobs.hasNextPage, jobs.isFetchingNextPage, jobs.fetchNextPage]);
  const showOlder = () => {
    const p = new URLSearchParams(window.location.search);
    p.set('pages', String(Math.min(shownPages + 1, MAX_PAGES)));
    navigate(`/queue?${p}`, { scroll: false });
  };
  const rows = jobs.data?.pages.slice(0, shownPages).flatMap((p) => p.items) ?? [];
  // Suspended jobs are not streamed (their stream ends at once); the list's own poll shows a resume.
  const activeIds = rows
    .filter(streamable)
    .slice(0, MAX_STREAMS)
    .map((j) => j.id);
  const justSubmitted = rows.find((j) => j.id === submitted);
  const ask = (a: Asked) => {
    control.reset();
    setAsked(a);
  };
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">Bulk actions queue</h1>
      <p className="lead">Jobs you submitted and jobs you received, newest first.</p>
      {submitted && (
        <p className="notice" role="status">
          Your {justSubmitted ? justSubmitted.labels.noun.toLowerCase() : 'job'} was submitted: it is job{' '}
          <code>{submitted.slice(0, 8)}</code> at the top of the queue.
          {justSubmitted && waitsToStart(justSubmitted) && justSubmitted.start_at
            ? ` It starts ${formatDate(justSubmitted.start_at)}; until then Stop cancels it and nothing moves.`
            : ''}
        </p>
      )}
      <ErrorBox error={jobs.error} />
      {!asked && <ErrorBox error={control.error} />}
      <div className="table-wrap">
        <table className="jobs">
          <caption className="visually-hidden">Bulk jobs</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col" className="wide-only">
                Size
              </th>
              <th scope="col" className="wide-only">
                Submitted
              </th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((j) => (
              <JobRow
                key={j.id}
                job={j}
                me={me}
                listedAt={jobs.dataUpdatedAt}
                stream={activeIds.includes(j.id)}
                busy={control.isPending}
                onAsk={ask}
                onAction={(job, action) => control.mutate({ job, action })}
              />
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={6}>
                  {jobs.isPending
                    ? 'Loading…'
                    : jobs.isError
                      ? 'The jobs could not be loaded.'
                      : 'No bulk jobs yet. Start one from Domains → Bulk actions.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {(jobs.hasNextPage || loadedPages > shownPages) && shownPages < MAX_PAGES && (
        <button type="button" className="secondary" onClick={showOlder} disabled={jobs.isFetchingNextPage}>
          Show older jobs
        </button>
      )}
      <ConfirmDialog
        open={asked?.what === 'stop'}
        title="Stop this move?"
        confirmLabel="Yes, stop it"
        cancelLabel="Keep it scheduled"
        busy={control.isPending}
        onConfirm={() => asked && control.mutate({ job: asked.job, action: 'cancel' })}
        onClose={() => setAsked(null)}
      >
        <p>
          {asked?.name}: nothing has moved yet. Stopping cancels the job: every one of its{' '}
          {asked ? `${asked.job.total.toLocaleString('en-US')} ${asked.job.labels.units}` : ''} stays with you.
        </p>
        {asked?.what === 'stop' && <ErrorBox error={control.error} />}
      </ConfirmDialog>
      {asked?.what === 'reschedule' && (
        <RescheduleDialog
          job={asked.job}
          name={asked.name}
          busy={control.isPending}
          error={control.error}
          onSave={(body) => control.mutate({ job: asked.job, action: 'reschedule', body })}
          onClose={() => setAsked(null)}
        />
      )}
    </section>
  );
}

function JobRow({
  job: listed,
  me,
  listedAt,
  stream,
  busy,
  onAsk,
  onAction,
}: {
  job: Job;
  me: Me;
  listedAt: number;
  stream: boolean;
  busy: boolean;
  onAsk: (a: Asked) => void;
  onAction: (job: Job, action: Action) => void;
}) {
  const live = useJobStream(listed.id, stream);
  // The newer of the two views: the stream's latest event or the list's latest fetch (after Stop or Suspend).
  const seen = useRef<{ job?: Job; at: number }>({ at: 0 });
  if (live !== seen.current.job) seen.current = { job: live, at: Date.now() };
  const liveIsNewer = !!live && seen.current.at > listedAt && !(FINISHED.includes(listed.status) && !FINISHED.includes(live.status));
  const job = liveIsNewer ? live : listed;
  const name = describeJob(job, me);
  const short = job.id.slice(0, 8);
  const waiting = waitsToStart(job);
  const mine = job.losing_reseller === me.username;
  return (
    <tr data-job-id={job.id}>
      <td>
        <span className="job-name">{name}</span>
        <span className="sub">{short}</span>
      </td>
      <td>
        <OutcomeBadge job={job} />
        {waiting && job.start_at && (
          <span className="starts">
            {job.status === 'scheduled' ? (
              <>
                Starts <Countdown to={job.start_at} />
                <span className="sub when">{formatDate(job.start_at)}</span>
              </>
            ) : (
              'Held before its start'
            )}
          </span>
        )}
      </td>
      <td className="progress-cell">
        <OutcomeBar job={job} label={`Progress of ${name} (${short})`} />
        <span className="sub">{waiting ? 'Nothing has moved yet' : outcomeSummary(job)}</span>
      </td>
      <td className="wide-only">
        {job.total.toLocaleString('en-US')} {job.total === 1 ? job.labels.unit : job.labels.units}
      </td>
      <td className="wide-only">{formatDate(job.created_at)}</td>
      <td>
        <div className="row-actions">
          <Link to={`/queue/${job.id}`} aria-label={`View details of ${name} (${short})`}>
            View details
          </Link>
          {mine && waiting && (
            <>
              <button
                type="button"
                className="danger small"
                aria-label={`Stop ${name} (${short})`}
                disabled={busy}
                onClick={() => onAsk({ job, name, what: 'stop' })}
              >
                Stop
              </button>
              {job.status === 'scheduled' ? (
                <button
                  type="button"
                  className="secondary small"
                  aria-label={`Suspend ${name} (${short})`}
                  disabled={busy}
                  onClick={() => onAction(job, 'suspend')}
                >
                  Suspend
                </button>
              ) : (
                <button
                  type="button"
                  className="secondary small"
                  aria-label={`Resume ${name} (${short})`}
                  disabled={busy}
                  onClick={() => onAction(job, 'resume')}
                >
                  Resume
                </button>
              )}
              <button
                type="button"
                className="secondary small"
                aria-label={`Reschedule ${name} (${short})`}
                disabled={busy}
                onClick={() => onAsk({ job, name, what: 'reschedule' })}
              >
                Reschedule
              </button>
            </>
          )}
        </div>
      </td>
    </tr>
  );
}

/** "1,980 <done status> · 20 failed": the finished outcomes that are not zero, or the outcome in words. */
function outcomeSummary(job: Job): string {
  const counts = [job.done_status, 'skipped', 'failed', 'cancelled']
    .filter((k) => (job.counts[k] ?? 0) > 0)
    .map((k) => `${(job.counts[k] ?? 0).toLocaleString('en-US')} ${k}`)
    .join(' · ');
  return counts || (FINISHED.includes(job.status) ? outcomeOf(job).text : '');
}

type When = 'now' | '300' | 'at' | 'next_cycle';

/** A new start for a job that has not started: now, in 5 minutes, at a time, or at the next billing cycle. */
function RescheduleDialog({
  job,
  name,
  busy,
  error,
  onSave,
  onClose,
}: {
  job: Job;
  name: string;
  busy: boolean;
  error: unknown;
  onSave: (body: { start_at: string } | { start_after_seconds: number }) => void;
  onClose: () => void;
}) {
  const [when, setWhen] = useState<When>('300');
  const [at, setAt] = useState('');
  const [problem, setProblem] = useState<string>();
  const save = () => {
    if (when === 'at') {
      const t = at ? new Date(at) : null;
      if (!t || Number.isNaN(t.getTime())) return setProblem('Choose the date and time the move starts.');
      if (t.getTime() <= Date.now()) return setProblem('That time has passed: choose a time to come.');
      setProblem(undefined);
      return onSave({ start_at: t.toISOString() });
    }
    setProblem(undefined);
    onSave(when === 'now' ? { start_at: 'now' } : when === 'next_cycle' ? { start_at: 'next_cycle' } : { start_after_seconds: 300 });
  };
  return (
    <ConfirmDialog
      open
      title="Reschedule this move?"
      confirmLabel="Save the new start"
      cancelLabel="Keep the old start"
      busy={busy}
      onConfirm={save}
      onClose={onClose}
    >
      <p>
        {name} ({job.total.toLocaleString('en-US')} {job.labels.units}) starts {job.start_at ? formatDate(job.start_at) : 'later'}. Nothing
        has moved yet.
      </p>
      <form onSubmit={(e) => e.preventDefault()} noValidate>
        <Field label="New start">
          {(p) => (
            <select {...p} value={when} onChange={(e) => setWhen(e.target.value as When)}>
              <option value="now">Start now</option>
              <option value="300">Start after 5 minutes</option>
              <option value="at">At a time…</option>
              <option value="next_cycle">At the gaining reseller's next billing cycle</option>
            </select>
          )}
        </Field>
        {when === 'at' && (
          <Field label="Start at (your local time)" error={problem}>
            {(p) => <input {...p} type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} />}
          </Field>
        )}
      </form>
      <ErrorBox error={error} />
    </ConfirmDialog>
  );
}
