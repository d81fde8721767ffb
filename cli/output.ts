import cliProgress from 'cli-progress';
import { outcomeText } from '../shared/bulk/outcome';
import { EXIT, type ExitCode } from './exit-codes';
import type { JobState } from './sse';

/** A job as the API shows it (`GET /v1/jobs/:id`); only what the CLI prints is typed. */
export interface JobView extends JobState {
  kind: string;
  losing_reseller: string | null;
  gaining_reseller: string | null;
  options?: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error?: string | null;
  /** When a scheduled job starts (or started); null without a schedule. */
  start_at?: string | null;
  submitted_by?: { via: string; key_prefix: string | null } | null;
  /** The item status that means done for the job's kind: the CLI never names a kind itself. */
  done_status?: string;
  /** How the job's kind names itself and its items (the API's words, printed as they come). */
  labels?: { noun: string; unit: string; units: string; sent_title: string; received_title: string };
  /** The kind's own options, in words. */
  details?: Array<{ label: string; value: string }>;
}

export interface ItemView {
  domain: string;
  status: string;
  reason: string | null;
  message: string | null;
  was_locked: boolean;
  relocked: boolean;
  finished_at: string | null;
}

/** The statuses the engine gives items of every kind; a kind adds one of its own, its done status. */
const ENGINE_STATUSES = new Set(['pending', 'running', 'skipped', 'failed', 'cancelled']);

/**
 * The job's done status as the API names it (`done_status`); from a server that predates it, the
 * one count that is not the engine's (the view counts every status of its kind, zeros included).
 */
export function doneStatus(job: JobState): string {
  if (typeof job.done_status === 'string') return job.done_status;
  return Object.keys(job.counts).find((k) => !ENGINE_STATUSES.has(k)) ?? 'done';
}
/**
 * Items the workers got to (done, skipped or failed): what a progress figure counts. Cancelled
 * items are not among them, so a cancelled job never reads 100 %.
 */
const finishedCount = (job: JobState) => job.total - (job.counts.pending ?? 0) - (job.counts.running ?? 0) - (job.counts.cancelled ?? 0);

/** The API's one line for people ("completed with 2 failures (5 of 7 <done status>)", "cancelled after ..."). */
export function outcomeLine(job: JobState): string {
  if (typeof job.outcome_text === 'string' && job.outcome_text) return job.outcome_text;
  return outcomeText({
    status: job.status,
    total: job.total,
    counts: job.counts,
    doneStatus: doneStatus(job),
    start_at: (job.start_at as string | null | undefined) ?? null,
  });
}

/**
 * The exit code of a job's state (the table in exit-codes.ts): 0 when every item was done, 1 when
 * it ended otherwise, 4 cancelled, 5 suspended; a job still on its way (scheduled, queued,
 * running, cancelling) is 0 for `status`, which only reports.
 */
export function outcomeCode(job: JobState): ExitCode {
  switch (job.status) {
    case 'completed':
    case 'failed':
      return job.status === 'completed' && (job.counts[doneStatus(job)] ?? 0) === job.total ? EXIT.ok : EXIT.partial;
    case 'cancelled':
      return EXIT.cancelled;
    case 'suspended':
      return EXIT.suspended;
    default:
      return EXIT.ok;
  }
}

function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

const rateText = (rate: number | null) => (rate === null ? '-- /s' : `${rate}/s`);

function countsText(job: JobState): string {
  // Items in flight are worth a word only while there are some.
  const inFlight = ['running', 'pending'].filter((k) => (job.counts[k] ?? 0) > 0);
  return [doneStatus(job), 'skipped', 'failed', 'cancelled', ...inFlight].map((k) => `${k} ${job.counts[k] ?? 0}`).join(', ');
}

/** States in which nothing moves for now: the line says until when, or why. */
const WAITING = new Set(['scheduled', 'suspended']);

/** One line per state, for logs and pipes: stable words, no control characters. */
export function progressLine(job: JobState): string {
  const done = finishedCount(job);
  const pct = job.total ? Math.floor((done / job.total) * 100) : 100;
  const tail =
    job.status === 'running'
      ? ` | ${rateText(job.rate)} | ETA ${duration(job.eta_seconds)}`
      : WAITING.has(job.status)
        ? ` | ${outcomeLine(job)}`
        : '';
  return `${job.status} ${done}/${job.total} (${pct}%) | ${countsText(job)}${tail}`;
}

export function describeJob(job: JobView): string {
  const lines = [
    `Job ${job.id} (${job.kind}): ${job.status}`,
    `  ${outcomeLine(job)}`,
    `  from ${job.losing_reseller ?? '-'} to ${job.gaining_reseller ?? '-'}`,
    `  ${job.total} ${job.labels?.units ?? 'item(s)'}: ${countsText(job)}`,
  ];
  if (job.start_at) lines.push(`  ${job.started_at || job.status !== 'scheduled' ? 'start was set for' : 'starts at'} ${job.start_at}`);
  if (job.rate !== null) lines.push(`  rate ${rateText(job.rate)}${job.status === 'running' ? `, ETA ${duration(job.eta_seconds)}` : ''}`);
  lines.push(
    `  created ${job.created_at}${job.started_at ? `, started ${job.started_at}` : ''}${job.finished_at ? `, finished ${job.finished_at}` : ''}`,
  );
  // The kind's options as the API words them, then what every job carries.
  const o = job.options ?? {};
  const opts = [
    ...(job.details ?? []).map((d) => `${d.label.toLowerCase()}: ${d.value}`),
    o.email_results_to ? `results to ${o.email_results_to}` : 'email_results_to' in o ? 'no results email' : undefined,
    typeof o.start_after_seconds === 'number' && o.start_after_seconds > 0 ? `grace window ${o.start_after_seconds} s` : undefined,
    o.start_at_requested ? `start requested: ${o.start_at_requested}` : undefined,
  ].filter(Boolean);
  if (opts.length) lines.push(`  ${opts.join('; ')}`);
  if (job.error) lines.push(`  error: ${job.error}`);
  return lines.join('\n');
}

/** Columns padded to the widest cell, for `items` and `jobs`. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

export interface ProgressView {
  update(job: JobState): void;
  note(text: string): void;
  stop(): void;
}

/** A live bar with the API's rate and ETA, redrawn in place; for a terminal. */
export function barView(stream: NodeJS.WriteStream): ProgressView {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{bar} {percentage}% | {value}/{total} | {rateText} | ETA {etaText} | {statusText}',
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(job) {
      const payload = {
        rateText: rateText(job.rate),
        etaText: job.status === 'running' ? duration(job.eta_seconds) : '--',
        statusText: WAITING.has(job.status) ? outcomeLine(job) : `${job.status}: ${countsText(job)}`,
      };
      if (!started) {
        bar.start(job.total, finishedCount(job), payload);
        started = true;
      } else {
        bar.setTotal(job.total);
        bar.update(finishedCount(job), payload);
      }
    },
    note(text) {
      if (started) bar.updateETA();
      stream.write(`\r\x1b[2K${text}\n`);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** A line each time the state changes; for pipes and logs. */
export function lineView(write: (s: string) => void): ProgressView {
  let last = '';
  return {
    update(job) {
      const line = progressLine(job);
      if (line !== last) write(`${line}\n`);
      last = line;
    },
    note: (text) => write(`${text}\n`),
    stop() {},
  };
}

/** One JSON document per state (NDJSON), for scripts. */
export function jsonView(write: (s: string) => void): ProgressView {
  return { update: (job) => write(`${JSON.stringify(job)}\n`), note() {}, stop() {} };
}
