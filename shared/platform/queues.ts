import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { Unavailable } from './errors';

export const QUEUE_NAMES = { bulk: 'bulk' } as const;

/** Each bulk job kind has a chunk job name; the worker checks at boot that each has one handler. */
export const CHUNK_JOB_NAMES = { push: 'push-chunk', release: 'release-chunk' } as const;
export type BulkKind = keyof typeof CHUNK_JOB_NAMES;

export interface ChunkPayload {
  jobId: string;
  chunk: number;
  /** The bulk kind: the job's name is free text for operators (chunk-names.ts), this picks the processor. */
  kind?: BulkKind;
}

/** Redis keeps work, not history: finished BullMQ jobs are trimmed by count and age. */
export const CHUNK_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000, age: 24 * 3600 },
  removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
};

export interface Queues {
  bulk: Queue<ChunkPayload>;
  all(): Queue[];
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string): Queues {
  const bulk = new Queue<ChunkPayload>(QUEUE_NAMES.bulk, {
    connection,
    prefix,
    defaultJobOptions: CHUNK_JOB_OPTIONS,
  });
  bulk.on('error', () => undefined); // producer errors surface per call
  return {
    bulk,
    all: () => [bulk],
    close: async () => {
      await bulk.close();
    },
  };
}

/** BullMQ job ids are deterministic so a re-enqueue of the same generation is a no-op. */
export function chunkJobId(jobId: string, generation: number, chunk: number): string {
  return `${jobId}.g${generation}.c${chunk}`;
}

export async function enqueueChunks(
  queues: Queues,
  job: { id: string; kind: BulkKind; generation: number },
  chunks: number[],
  names?: Map<number, string>,
): Promise<void> {
  if (chunks.length === 0) return;
  try {
    await queues.bulk.addBulk(
      chunks.map((chunk) => ({
        name: names?.get(chunk) ?? CHUNK_JOB_NAMES[job.kind],
        data: { jobId: job.id, chunk, kind: job.kind },
        opts: { jobId: chunkJobId(job.id, job.generation, chunk) },
      })),
    );
  } catch (err) {
    throw new Unavailable('queue_unavailable', `The work queue is unavailable: ${(err as Error).message}`);
  }
}

/** A cheap round trip so a submit can refuse before writing anything when Redis is down. */
export async function assertQueueReachable(connection: Redis): Promise<void> {
  try {
    await connection.ping();
  } catch (err) {
    throw new Unavailable('queue_unavailable', `The work queue is unavailable: ${(err as Error).message}`);
  }
}
