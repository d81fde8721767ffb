import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { countOrder, type BulkDeps, type KindTable } from '../shared/bulk/kind';
import { failChunk, processChunk, UnknownBulkJob, type ChunkOutcome } from '../shared/bulk/process';
import { advanceFairClock } from '../shared/bulk/fairness';
import type { ChunkPayload } from '../shared/platform/queues';
import { isTransientFault } from '../shared/platform/faults';
import { delayFor, type RetryPolicy } from '../shared/platform/retry';
import { storableText } from '../shared/platform/validation';

/**
 * Backoff of an attempt cut short by a transient fault, for ever: a pause drawn from
 * [0, 0.5 s · 2^n] (full jitter), at most 10 s, so chunks that met the same outage come back spread.
 */
export const TRANSIENT_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 500, factor: 2, capMs: 10_000, jitter: 'full' };

function transientDelay(job: Job<ChunkPayload>): number {
  return delayFor(TRANSIENT_RETRY, (job.attemptsStarted ?? 1) - 1);
}

/** Fails the BullMQ job at once (unrecoverable) and marks that there is no job to fail items of. */
class UnknownJobChunk extends UnrecoverableError {}

type Processor = (deps: BulkDeps, job: Job<ChunkPayload>, token?: string, signal?: AbortSignal) => Promise<string>;

function decode(job: Job<ChunkPayload>): ChunkPayload {
  const { jobId, chunk } = job.data ?? ({} as ChunkPayload);
  if (typeof jobId !== 'string' || !Number.isInteger(chunk)) throw new UnrecoverableError(`bad payload for ${job.name}`);
  return { jobId, chunk };
}

/**
 * A transient fault (Postgres restarting, a connection reset, a serialization failure) does not
 * use up an attempt: the chunk comes back after a backoff, however long the outage lasts, and
 * its items stay open. Only other errors count against the chunk's attempts.
 */
const chunkProcessor: Processor = async (deps, job, token, signal) => {
  const { jobId, chunk } = decode(job);
  await advanceFairClock(deps.queues, job.priority).catch(() => undefined); // fairness is best effort
  const progress = (finished: number, inHand: number) =>
    job.updateProgress(inHand ? Math.round((100 * finished) / inHand) : 100).catch(() => undefined);
  let outcome: ChunkOutcome;
  try {
    outcome = await processChunk(deps, jobId, chunk, signal, progress);
  } catch (err) {
    if (err instanceof UnknownBulkJob) {
      deps.log.error({ job_id: jobId, chunk, bullmq_job: job.id, prefix: deps.config.QUEUE_PREFIX }, err.message);
      throw new UnknownJobChunk(err.message); // no retry: the database will not grow the job
    }
    if (!token || !isTransientFault(err)) throw err;
    const delay = transientDelay(job);
    deps.log.warn(
      { job_id: jobId, chunk, retry_in_ms: delay, err: (err as Error).message },
      'chunk interrupted by a transient fault; retrying later',
    );
    // If Redis is the one away this fails too; the chunk then stalls and is taken up again.
    await job.moveToDelayed(Date.now() + delay, token);
    throw new DelayedError();
  }
  if (outcome.retryAt && token) {
    // Another live attempt holds some items: come back when its lease ends, without using up an attempt.
    await job.moveToDelayed(outcome.retryAt.getTime() + 100, token);
    throw new DelayedError();
  }
  await progress(1, 1);
  return chunkResult(outcome, countOrder(deps.kinds));
};

/**
 * The chunk's result as the dashboard shows it, counts in `order` (the kinds' done statuses first,
 * `countOrder`): `pushed 997, skipped 3`; the chunk that ended its job adds the job's outcome in
 * the words every front end uses (`job completed with 2 failures …`).
 */
function chunkResult(outcome: { status: string; counts: Record<string, number>; jobEnded?: string }, order: string[]): string {
  const rank = (status: string) => (order.includes(status) ? order.indexOf(status) : order.length);
  const parts = Object.entries(outcome.counts)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([status, n]) => `${status} ${n.toLocaleString('en-US')}`);
  const own = parts.length ? parts.join(', ') : `nothing left to do (job ${outcome.status})`;
  return outcome.jobEnded ? `${own}; job ${outcome.jobEnded}` : own;
}

/**
 * A processor is to a queue what a route is to HTTP: decode, call shared/, done. Every kind's
 * chunk job name gets the one chunk processor (the kind's item handler is chosen from the job row),
 * so a new kind in the table needs nothing here. Job names are unique: `kindTable` checks it.
 */
export function processorsFor(kinds: KindTable): Record<string, Processor> {
  return Object.fromEntries(Object.values(kinds).map((k) => [k.jobName, chunkProcessor]));
}

/**
 * The processor of a chunk job: by its name (chunks enqueued before names were written for
 * operators), else by the kind its payload carries.
 */
export function processorOf(kinds: KindTable, processors: Record<string, Processor>, job: Job<ChunkPayload>): Processor | undefined {
  const kind = job.data?.kind;
  return processors[job.name] ?? (kind && kinds[kind] ? processors[kinds[kind].jobName] : undefined);
}

/**
 * Called once BullMQ has given up on a chunk: its unfinished items fail so the job can end. Not
 * when the last error was a transient fault or workers dying under it (stalled): that is no
 * verdict on the items, so they stay open and the reconciler enqueues the chunk again.
 */
export async function onChunkExhausted(deps: BulkDeps, job: Job<ChunkPayload>, err: Error) {
  if (err instanceof UnknownJobChunk) return;
  const { jobId, chunk } = decode(job);
  if (isTransientFault(err) || /stalled more than allowable limit/i.test(err.message)) {
    deps.log.warn({ job_id: jobId, chunk, err: err.message }, 'chunk given up by the queue on a transient fault; left to the reconciler');
    return;
  }
  // The message may carry a peer's text (NUL, a lone surrogate) that Postgres would refuse to store.
  await failChunk(deps, jobId, chunk, storableText(`retries exhausted: ${err.message}`));
}
