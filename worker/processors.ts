import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Deps } from '../shared/platform/deps';
import { failChunk, processChunk } from '../shared/bulk/process';
import { advanceFairClock, CHUNK_JOB_NAMES, type ChunkPayload } from '../shared/platform/queues';

type Processor = (deps: Deps, job: Job<ChunkPayload>, token?: string, signal?: AbortSignal) => Promise<string>;

function decode(job: Job<ChunkPayload>): ChunkPayload {
  const { jobId, chunk } = job.data ?? ({} as ChunkPayload);
  if (typeof jobId !== 'string' || !Number.isInteger(chunk)) throw new UnrecoverableError(`bad payload for ${job.name}`);
  return { jobId, chunk };
}

const chunkProcessor: Processor = async (deps, job, token, signal) => {
  const { jobId, chunk } = decode(job);
  await advanceFairClock(deps.queues, job.priority).catch(() => undefined); // fairness is best effort
  const outcome = await processChunk(deps, jobId, chunk, signal);
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

/** Called once BullMQ has given up on a chunk: its unfinished items fail so the job can end. */
export async function onChunkExhausted(deps: Deps, job: Job<ChunkPayload>, err: Error) {
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
