import { Queue, type JobsOptions } from 'bullmq';
import { Unavailable } from './errors';
import type { Logger } from './logger';
import { connectionErrorLogger, type RedisClient } from './redis';

export const QUEUE_NAMES = { bulk: 'bulk' } as const;

export interface ChunkPayload {
  jobId: string;
  chunk: number;
  /** The bulk kind's name: the job's name is free text for operators (chunk-names.ts), this picks the processor. */
  kind?: string;
}

/**
 * Tries of one chunk before its unfinished items fail (`failChunk`); the pauses are drawn from
 * [0, 1 s · 2^n] (full jitter, as `retry.ts`), so chunks failing together do not come back together.
 */
const CHUNK_ATTEMPTS = 5;
const CHUNK_BACKOFF_MS = 1000;

/** Redis keeps work, not history: finished BullMQ jobs are trimmed by count and age. */
const CHUNK_JOB_OPTIONS: JobsOptions = {
  attempts: CHUNK_ATTEMPTS,
  backoff: { type: 'exponential', delay: CHUNK_BACKOFF_MS, jitter: 1 },
  removeOnComplete: { count: 1000, age: 24 * 3600 },
  removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
};

export interface Queues {
  bulk: Queue<ChunkPayload>;
  /** The connection and key prefix the queues use (the fair-share clock lives beside them). */
  connection: RedisClient;
  prefix: string;
  all(): Queue[];
  close(): Promise<void>;
}

export function createQueues(connection: RedisClient, prefix: string, log: Logger): Queues {
  const bulk = new Queue<ChunkPayload>(QUEUE_NAMES.bulk, {
    connection,
    prefix,
    defaultJobOptions: CHUNK_JOB_OPTIONS,
  });
  // Each call also fails on its own (a submit answers 503); the log says why the queue is failing.
  bulk.on('error', connectionErrorLogger(log, 'bulk queue'));
  return {
    bulk,
    connection,
    prefix,
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

/** A cheap round trip so a submit can refuse before writing anything when Redis is down. */
export async function assertQueueReachable(connection: RedisClient): Promise<void> {
  try {
    await connection.ping();
  } catch (err) {
    throw new Unavailable('queue_unavailable', `The work queue is unavailable: ${(err as Error).message}`);
  }
}
