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

/** Tries of one chunk before its unfinished items fail (`failChunk`), 1 s apart then doubling. */
export const CHUNK_ATTEMPTS = 5;
export const CHUNK_BACKOFF_MS = 1000;

/** Redis keeps work, not history: finished BullMQ jobs are trimmed by count and age. */
export const CHUNK_JOB_OPTIONS: JobsOptions = {
  attempts: CHUNK_ATTEMPTS,
  backoff: { type: 'exponential', delay: CHUNK_BACKOFF_MS },
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

/**
 * Fair share of the workers between resellers: start-time fair queuing on BullMQ priorities.
 * A virtual clock advances to the priority of each chunk a worker starts; each reseller's next
 * chunks are numbered from max(clock, where that reseller's previous chunks ended). So a reseller
 * with 1,000 chunks queued holds priorities clock+1..clock+1000, and another reseller's first
 * chunk arriving now gets the clock itself, ahead of every chunk still waiting: the workers
 * alternate between them (round robin per reseller) instead of serving them first come, first served. When the numbers grow large and nothing is
 * waiting, the clock starts again at 0 (BullMQ priorities stop at 2^21).
 */
export const MAX_PRIORITY = 2_097_152;
const RESERVE = `
local clock = tonumber(redis.call('GET', KEYS[1]) or '0')
if clock > tonumber(ARGV[3]) / 2 and redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  clock = 0
end
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local base = math.max(clock - 1, last, 0)
redis.call('HSET', KEYS[2], ARGV[1], base + tonumber(ARGV[2]))
return base`;
const ADVANCE = `
local clock = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > clock then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

const fairKeys = (queues: Queues) => {
  const base = `${queues.prefix}:${QUEUE_NAMES.bulk}`;
  return { clock: `${base}:fair:clock`, lasts: `${base}:fair:last`, prioritized: `${base}:prioritized` };
};

async function reservePriorities(queues: Queues, resellerId: number | undefined, n: number): Promise<number> {
  const k = fairKeys(queues);
  const base = await queues.connection.eval(RESERVE, 3, k.clock, k.lasts, k.prioritized, String(resellerId ?? 0), n, MAX_PRIORITY);
  return Number(base);
}

/** A worker starting a chunk moves the clock to it: chunks enqueued from now on rank after it. */
export async function advanceFairClock(queues: Queues, priority: number | undefined): Promise<void> {
  if (!priority) return;
  const k = fairKeys(queues);
  await queues.connection.eval(ADVANCE, 1, k.clock, priority);
}

/** `name` is the BullMQ job name of the job's kind (its `jobName` in the kind table). */
export async function enqueueChunks(
  queues: Queues,
  name: string,
  job: { id: string; generation: number; kind?: string; losing_reseller_id?: number },
  chunks: number[],
  names?: Map<number, string>,
): Promise<void> {
  if (chunks.length === 0) return;
  try {
    const base = await reservePriorities(queues, job.losing_reseller_id, chunks.length);
    await queues.bulk.addBulk(
      chunks.map((chunk, i) => ({
        name: names?.get(chunk) ?? name,
        data: { jobId: job.id, chunk, ...(job.kind ? { kind: job.kind } : {}) },
        opts: { jobId: chunkJobId(job.id, job.generation, chunk), priority: Math.min(MAX_PRIORITY, base + i + 1) },
      })),
    );
  } catch (err) {
    throw new Unavailable('queue_unavailable', `The work queue is unavailable: ${(err as Error).message}`);
  }
}

/** A cheap round trip so a submit can refuse before writing anything when Redis is down. */
export async function assertQueueReachable(connection: RedisClient): Promise<void> {
  try {
    await connection.ping();
  } catch (err) {
    throw new Unavailable('queue_unavailable', `The work queue is unavailable: ${(err as Error).message}`);
  }
}
