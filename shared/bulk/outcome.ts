/**
 * A job's outcome: what happened to its items, beside its status, in the same words everywhere
 * (API, console, CLI exit codes, email subjects, dashboard). A status says where a job is in its
 * life; only the outcome says whether it did what was asked, so a job whose every item failed is
 * never read as a plain success because its status is `completed`.
 *
 * Pure (no Node or database imports): the console bundles it as it is.
 */

/** Outcomes of an ended job. `all_<done>` is `all_pushed` for a push, `all_released` for a release. */
export type EndedOutcome =
  | `all_${string}`
  | 'partly_skipped'
  | 'partly_failed'
  | 'all_skipped'
  | 'all_failed'
  | `none_${string}`
  | 'cancelled'
  | 'nothing_to_do';

export interface OutcomeInput {
  status: string;
  total: number;
  /** Items per status; missing statuses count 0. */
  counts: Record<string, number>;
  /** The kind's done status (`pushed`, `released`). */
  doneStatus: string;
}

const ENDED = new Set(['completed', 'cancelled', 'failed']);

const n = (counts: Record<string, number>, status: string) => counts[status] ?? 0;

/** The outcome of an ended job, or null while it is open (scheduled, queued, running, suspended, cancelling). */
export function jobOutcome(job: OutcomeInput): EndedOutcome | null {
  if (!ENDED.has(job.status)) return null;
  if (job.status === 'cancelled') return 'cancelled';
  const done = n(job.counts, job.doneStatus);
  const failed = n(job.counts, 'failed');
  const skipped = n(job.counts, 'skipped');
  if (done === 0 && failed === 0 && skipped === 0) return 'nothing_to_do';
  if (done === 0) return skipped === 0 ? 'all_failed' : failed === 0 ? 'all_skipped' : `none_${job.doneStatus}`;
  if (failed > 0) return 'partly_failed';
  if (skipped > 0) return 'partly_skipped';
  return `all_${job.doneStatus}`;
}

/** How a front end paints an outcome: success only when every item was done. */
export type Tone = 'success' | 'warning' | 'danger' | 'neutral' | 'info';

export function outcomeTone(outcome: EndedOutcome | null, status: string): Tone {
  if (outcome === null) return status === 'suspended' || status === 'cancelling' ? 'warning' : 'info';
  if (outcome.startsWith('all_') && outcome !== 'all_failed' && outcome !== 'all_skipped') return 'success';
  if (outcome === 'all_failed' || outcome.startsWith('none_')) return 'danger';
  if (outcome === 'cancelled' || outcome === 'nothing_to_do') return 'neutral';
  return 'warning';
}

const fmt = (x: number) => x.toLocaleString('en-US');
const plural = (x: number, one: string, many = `${one}s`) => `${fmt(x)} ${x === 1 ? one : many}`;

/**
 * One line a person reads: "completed with 2 failures", "cancelled after 1,000 of 20,000 pushed",
 * "all 7 failed". Used by the console's badge, the CLI, the email subject and the dashboard.
 */
export function outcomeText(job: OutcomeInput & { start_at?: Date | string | null }): string {
  const outcome = jobOutcome(job);
  const done = n(job.counts, job.doneStatus);
  const failed = n(job.counts, 'failed');
  const skipped = n(job.counts, 'skipped');
  const verb = job.doneStatus;
  const problems = [failed ? plural(failed, 'failure') : '', skipped ? `${fmt(skipped)} skipped` : ''].filter(Boolean).join(' and ');
  switch (outcome) {
    case null:
      return openText(job, done);
    case 'cancelled':
      return `cancelled after ${fmt(done)} of ${fmt(job.total)} ${verb}`;
    case 'all_failed':
      return job.total === 1 ? 'failed' : `all ${fmt(job.total)} failed`;
    case 'all_skipped':
      return `nothing ${verb}: ${job.total === 1 ? 'the item was' : `all ${fmt(job.total)}`} skipped`;
    case `none_${verb}`:
      return `nothing ${verb}: ${problems}`;
    case 'partly_failed':
    case 'partly_skipped':
      return `${job.status === 'failed' ? 'failed' : 'completed'} with ${problems} (${fmt(done)} of ${fmt(job.total)} ${verb})`;
    case 'nothing_to_do':
      return 'completed: nothing to do';
    default:
      return `completed: all ${fmt(done)} ${verb}`;
  }
}

function openText(job: OutcomeInput & { start_at?: Date | string | null }, done: number): string {
  const pending = n(job.counts, 'pending') + n(job.counts, 'running');
  switch (job.status) {
    case 'scheduled':
      return job.start_at ? `scheduled to start at ${new Date(job.start_at).toISOString()}` : 'scheduled';
    case 'queued':
      return 'queued: nothing has moved yet';
    case 'suspended':
      return `suspended with ${fmt(pending)} not started (${fmt(done)} of ${fmt(job.total)} ${job.doneStatus})`;
    case 'cancelling':
      return `cancelling (${fmt(done)} of ${fmt(job.total)} ${job.doneStatus} so far)`;
    default:
      return `${job.status}: ${fmt(done)} of ${fmt(job.total)} ${job.doneStatus}`;
  }
}
