import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Deps } from '../shared/platform/deps';
import { failChunk, processChunk, type ChunkOutcome } from '../shared/bulk/process';
import { CHUNK_JOB_NAMES, type ChunkPayload } from '../shared/platform/queues';
import { isTransientFault } from '../shared/platform/faults';

/** Backoff of an attempt cut short by a transient fault: 0.5 s doubling up to 10 s, for ever. */
const TRANSIENT_BACKOFF_MS = { base: 500, max: 10_000 };

function transientDelay(job: Job<ChunkPayload>): number {
  const n = Math.max(0, (job.attemptsStarted ?? 1) - 1);
  return Math.min(TRANSIENT_BACKOFF_MS.max, TRANSIENT_BACKOFF_MS.base * 2 ** Math.min(n, 10));
}

type Processor = (deps: Deps, job: Job<ChunkPayload>, token?: string, signal?: AbortSignal) => Promise<string>;

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
  let outcome: ChunkOutcome;
  try {
    outcome = await processChunk(deps, jobId, chunk, signal);
  } catch (err) {
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
  return `${outcome.status}: ${outcome.done} item(s)`;
};

/** A processor is to a queue what a route is to HTTP: decode, call shared/, done. */
export const PROCESSORS: Record<string, Processor> = {
  [CHUNK_JOB_NAMES.push]: chunkProcessor,
  [CHUNK_JOB_NAMES.release]: chunkProcessor,
};

/**
 * Called once BullMQ has given up on a chunk: its unfinished items fail so the job can end. Not
 * when the last error was a transient fault or workers dying under it (stalled): that is no
 * verdict on the items, so they stay open and the reconciler enqueues the chunk again.
 */
export async function onChunkExhausted(deps: Deps, job: Job<ChunkPayload>, err: Error) {
  const { jobId, chunk } = decode(job);
  if (isTransientFault(err) || /stalled more than allowable limit/i.test(err.message)) {
    deps.log.warn({ job_id: jobId, chunk, err: err.message }, 'chunk given up by the queue on a transient fault; left to the reconciler');
    return;
  }
  await failChunk(deps, jobId, chunk, `retries exhausted: ${err.message}`);
}

/** Boot check: every chunk job name has exactly one processor, and every processor a job name. */
export function assertHandlersComplete() {
  for (const name of Object.values(CHUNK_JOB_NAMES)) {
    if (!PROCESSORS[name]) throw new Error(`no processor for job name ${name}`);
  }
  for (const name of Object.keys(PROCESSORS)) {
    if (!Object.values(CHUNK_JOB_NAMES).includes(name as never)) throw new Error(`processor ${name} has no queue job name`);
  }
}
