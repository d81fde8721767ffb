import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Deps } from '../shared/platform/deps';
import { failChunk, processChunk, UnknownBulkJob } from '../shared/bulk/process';
import { CHUNK_JOB_NAMES, type ChunkPayload } from '../shared/platform/queues';

/** Fails the BullMQ job at once (unrecoverable) and marks that there is no job to fail items of. */
class UnknownJobChunk extends UnrecoverableError {}

type Processor = (deps: Deps, job: Job<ChunkPayload>, token?: string, signal?: AbortSignal) => Promise<string>;

function decode(job: Job<ChunkPayload>): ChunkPayload {
  const { jobId, chunk } = job.data ?? ({} as ChunkPayload);
  if (typeof jobId !== 'string' || !Number.isInteger(chunk)) throw new UnrecoverableError(`bad payload for ${job.name}`);
  return { jobId, chunk };
}

const chunkProcessor: Processor = async (deps, job, token, signal) => {
  const { jobId, chunk } = decode(job);
  const progress = (finished: number, inHand: number) =>
    job.updateProgress(inHand ? Math.round((100 * finished) / inHand) : 100).catch(() => undefined);
  const outcome = await processChunk(deps, jobId, chunk, signal, progress).catch((err) => {
    if (!(err instanceof UnknownBulkJob)) throw err;
    deps.log.error({ job_id: jobId, chunk, bullmq_job: job.id, prefix: deps.config.QUEUE_PREFIX }, err.message);
    throw new UnknownJobChunk(err.message); // no retry: the database will not grow the job
  });
  if (outcome.retryAt && token) {
    // Another live attempt holds some items: come back when its lease ends, without using up an attempt.
    await job.moveToDelayed(outcome.retryAt.getTime() + 100, token);
    throw new DelayedError();
  }
  await progress(1, 1);
  return chunkResult(outcome);
};

/** The chunk's result as the dashboard shows it: `pushed 997, skipped 3`. */
export function chunkResult(outcome: { status: string; counts: Record<string, number> }): string {
  const order = ['pushed', 'released', 'skipped', 'failed', 'cancelled'];
  const rank = (status: string) => (order.includes(status) ? order.indexOf(status) : order.length);
  const parts = Object.entries(outcome.counts)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([status, n]) => `${status} ${n.toLocaleString('en-US')}`);
  return parts.length ? parts.join(', ') : `nothing left to do (job ${outcome.status})`;
}

/** A processor is to a queue what a route is to HTTP: decode, call shared/, done. */
export const PROCESSORS: Record<string, Processor> = {
  [CHUNK_JOB_NAMES.push]: chunkProcessor,
  [CHUNK_JOB_NAMES.release]: chunkProcessor,
};

/** Called once BullMQ has given up on a chunk: its unfinished items fail so the job can end. */
export async function onChunkExhausted(deps: Deps, job: Job<ChunkPayload>, err: Error) {
  if (err instanceof UnknownJobChunk) return;
  const { jobId, chunk } = decode(job);
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
