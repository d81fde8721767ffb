import { useEffect, useState } from 'react';
import { type EndedOutcome, jobOutcome, outcomeText, outcomeTone, type Tone } from '../../shared/bulk/outcome';
import { formatDate, formatEta, type Job, progressOf } from './api';

/**
 * A job's outcome told straight, the same way on every page: a badge in the outcome's words and
 * tone (a job whose every item failed reads "All failed" in red, never a green "completed"), and a
 * bar whose segments show done, failed, skipped, cancelled and not started in their own colours.
 * The words and tones come from shared/bulk/outcome.ts, the module the API, CLI and emails use.
 */

interface OutcomeView {
  /** null while the job is open. */
  outcome: string | null;
  tone: Tone;
  /** Short words for a badge: "Running", "Completed with 2 failures", "All failed". */
  label: string;
  /** One line for people: "completed with 2 failures (5 of 7 done)", in the kind's own done word. */
  text: string;
}

const fmt = (x: number) => x.toLocaleString('en-US');
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The item status that means done for the job's kind, as the API names it (`done_status`). */
function doneStatusOf(job: Pick<Job, 'done_status'>): string {
  return job.done_status;
}

export function outcomeOf(job: Job): OutcomeView {
  const doneStatus = doneStatusOf(job);
  const input = { status: job.status, total: job.total, counts: job.counts, doneStatus, start_at: job.start_at ?? null };
  // The API's outcome when it gives one (it counts the same way); computed here for an older API.
  // The document types it as a string (its values are listed in its description): they are shared/bulk/outcome.ts's.
  const outcome: EndedOutcome | null = job.outcome !== undefined ? (job.outcome as EndedOutcome | null) : jobOutcome(input);
  const text = job.outcome_text ?? outcomeText(input);
  return { outcome, tone: outcomeTone(outcome, job.status), label: badgeLabel(job, outcome, doneStatus), text };
}

function badgeLabel(job: Job, outcome: EndedOutcome | null, doneStatus: string): string {
  const n = (k: string) => job.counts[k] ?? 0;
  const failed = n('failed');
  const skipped = n('skipped');
  if (outcome === null) return cap(job.status);
  if (outcome === 'cancelled') return `Cancelled after ${fmt(n(doneStatus))} of ${fmt(job.total)} ${doneStatus}`;
  if (outcome === 'all_failed') return job.total === 1 ? 'Failed' : 'All failed';
  if (outcome === 'all_skipped') return job.total === 1 ? 'Skipped' : 'All skipped';
  if (outcome === 'nothing_to_do') return 'Nothing to do';
  if (outcome.startsWith('none_')) return `Nothing ${doneStatus}`;
  if (outcome === 'partly_failed' || outcome === 'partly_skipped') {
    const problems = [failed ? `${fmt(failed)} failure${failed === 1 ? '' : 's'}` : '', skipped ? `${fmt(skipped)} skipped` : '']
      .filter(Boolean)
      .join(' and ');
    return `${job.status === 'failed' ? 'Failed' : 'Completed'} with ${problems}`;
  }
  return job.status === 'failed' ? 'Failed' : 'Completed';
}

/** The job's outcome (or, while open, its status) as a badge in the outcome's tone. */
export function OutcomeBadge({ job }: { job: Job }) {
  const o = outcomeOf(job);
  return (
    <span className={`badge tone-${o.tone}`} data-outcome={o.outcome ?? job.status}>
      {o.label}
    </span>
  );
}

/** Item counts by what happened to them, in the order the bar paints them. */
function segmentsOf(job: Job) {
  const n = (k: string) => job.counts[k] ?? 0;
  const done = n(doneStatusOf(job));
  const failed = n('failed');
  const skipped = n('skipped');
  const cancelled = n('cancelled');
  const notStarted = Math.max(0, job.total - done - failed - skipped - cancelled);
  return { done, failed, skipped, cancelled, notStarted };
}

/** "5 of 7 <done status>, 2 failed, 0 skipped, 0 cancelled, 0 not started": the bar in words. */
function segmentsText(job: Job): string {
  const s = segmentsOf(job);
  return `${fmt(s.done)} of ${fmt(job.total)} ${doneStatusOf(job)}, ${fmt(s.failed)} failed, ${fmt(s.skipped)} skipped, ${fmt(s.cancelled)} cancelled, ${fmt(s.notStarted)} not started`;
}

/** Share of the total, never rounded up to 100 before it is all. */
const share = (x: number, total: number) => (total ? Math.floor((x / total) * 1000) / 10 : 0);

/**
 * The progress bar: a `progressbar` whose value is the share of items a worker ended (never 100
 * for a cancelled job), its segments in their own colours, its words in aria-valuetext. The
 * visible figure is the done share ("40 % <done status>"), so an all-failed job reads 0 %.
 */
export function OutcomeBar({ job, label }: { job: Job; label: string }) {
  const s = segmentsOf(job);
  const doneStatus = doneStatusOf(job);
  const worked = progressOf(job);
  let donePct = job.total ? Math.floor((s.done / job.total) * 100) : job.status === 'completed' ? 100 : 0;
  if (job.status === 'cancelled') donePct = Math.min(donePct, 99);
  const parts: [key: string, count: number][] = [
    ['done', s.done],
    ['failed', s.failed],
    ['skipped', s.skipped],
    ['cancelled', s.cancelled],
  ];
  return (
    <div className="progress">
      <div
        className="outcome-bar"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={worked}
        aria-valuetext={segmentsText(job)}
      >
        {parts
          .filter(([, count]) => count > 0)
          .map(([key, count]) => (
            <span key={key} className={`seg seg-${key}`} style={{ width: `${share(count, job.total)}%` }} />
          ))}
      </div>
      <span className="pct">
        {donePct} % {doneStatus}
      </span>
      {job.status === 'running' && <span className="eta">ETA {formatEta(job.eta_seconds)}</span>}
    </div>
  );
}

/** Which bar segment an item status is painted in. */
function segmentOf(status: string, doneStatus: string): string {
  if (status === doneStatus) return 'done';
  if (status === 'pending' || status === 'running') return 'not-started';
  return status;
}

/**
 * The job's counts by item status, each beside its colour in the bar: the bar's legend. A zero
 * count gets no colour (an all-failed job shows no green at all).
 */
export function OutcomeLegend({ job }: { job: Job }) {
  const doneStatus = doneStatusOf(job);
  return (
    <ul className="counts-list legend">
      {Object.entries(job.counts).map(([k, n]) => (
        <li key={k}>
          <span className={`swatch ${n > 0 ? `seg-${segmentOf(k, doneStatus)}` : 'seg-none'}`} aria-hidden="true" />
          {k} <strong>{n}</strong>
        </li>
      ))}
    </ul>
  );
}

/** "4 min 05 s" from seconds (rounded up: a countdown never shows 0 before the time). */
function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  const days = Math.floor(s / 86_400);
  return `${days} day${days === 1 ? '' : 's'} ${Math.floor((s % 86_400) / 3600)} h`;
}

/** The current time, once a second while mounted. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);
  return now;
}

/** A live countdown to `to`: "in 25 s", then "any moment now" once the time has come. */
export function Countdown({ to }: { to: string }) {
  const now = useNow();
  const left = (new Date(to).getTime() - now) / 1000;
  return (
    <span className="countdown" role="timer" aria-live="off">
      {left > 0 ? `in ${formatCountdown(left)}` : 'any moment now'}
    </span>
  );
}

/**
 * When the job really started, or null. A job stopped inside its window may carry a `started_at`
 * (the time it ended) earlier than its `start_at`: no job starts before its start time, so that
 * one never started.
 */
export function startedAt(job: Pick<Job, 'started_at' | 'start_at'>): string | null {
  if (!job.started_at) return null;
  if (job.start_at && new Date(job.started_at).getTime() < new Date(job.start_at).getTime()) return null;
  return job.started_at;
}

/** A job that has not started yet and waits for its start time (a grace window or a schedule). */
export function waitsToStart(job: Job): boolean {
  return !startedAt(job) && !!job.start_at && (job.status === 'scheduled' || job.status === 'suspended');
}

/** When the job starts or started: "Starts 5 Dec 2025, 22:40 (in 25 s)", "Started 5 Dec 2025, 22:41". */
export function StartLine({ job }: { job: Job }) {
  const started = startedAt(job);
  if (started) return <span>Started {formatDate(started)}</span>;
  if (!job.start_at) return <span>{job.status === 'queued' ? 'Starts as soon as a worker is free' : 'Not started'}</span>;
  if (job.status === 'suspended') return <span>Was to start {formatDate(job.start_at)}; suspended, it waits for Resume</span>;
  if (FINISHED_OR_CLOSING.has(job.status)) return <span>Was to start {formatDate(job.start_at)}; never started</span>;
  return (
    <span>
      Starts {formatDate(job.start_at)} (<Countdown to={job.start_at} />)
    </span>
  );
}

const FINISHED_OR_CLOSING = new Set(['completed', 'cancelled', 'failed', 'cancelling']);
