import { Unavailable } from '../platform/errors';
import { chunkJobId, QUEUE_NAMES, type Queues } from '../platform/queues';

/**
 * Fair share of the workers between resellers: start-time fair queuing on BullMQ priorities.
 * A virtual clock advances to the priority of each chunk a worker starts; each reseller's next
 * chunks are numbered from max(clock, where that reseller's previous chunks ended). So a reseller
 * with 1,000 chunks queued holds priorities clock+1..clock+1000, and another reseller's first
 * chunk arriving now gets the clock itself, ahead of every chunk still waiting: the workers
 * alternate between them (round robin per reseller) instead of serving them first come, first served. When the numbers grow large and nothing is
 * waiting, the clock starts again at 0 (BullMQ priorities stop at 2^21).
 */
const MAX_PRIORITY = 2_097_152;
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
