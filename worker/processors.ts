import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { BulkDeps, KindTable } from '../shared/bulk/kind';
import { failChunk, processChunk } from '../shared/bulk/process';
import { advanceFairClock, type ChunkPayload } from '../shared/platform/queues';

type Processor = (deps: BulkDeps, job: Job<ChunkPayload>, token?: string, signal?: AbortSignal) => Promise<string>;

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

/**
 * A processor is to a queue what a route is to HTTP: decode, call shared/, done. Every kind's
 * chunk job name gets the one chunk processor (the kind's item handler is chosen from the job row),
 * so a new kind in the table needs nothing here. Job names are unique: `kindTable` checks it.
 */
export function processorsFor(kinds: KindTable): Record<string, Processor> {
  return Object.fromEntries(Object.values(kinds).map((k) => [k.jobName, chunkProcessor]));
}

/** Called once BullMQ has given up on a chunk: its unfinished items fail so the job can end. */
export async function onChunkExhausted(deps: BulkDeps, job: Job<ChunkPayload>, err: Error) {
  const { jobId, chunk } = decode(job);
  await failChunk(deps, jobId, chunk, `retries exhausted: ${err.message}`);
}
