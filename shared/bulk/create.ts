import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Deps } from '../platform/deps';
import { assertQueueReachable, enqueueChunks, type BulkKind } from '../platform/queues';
import type { BulkJob } from './model';
import { assertQuota } from './quota';

export interface NewBulkJob {
  kind: BulkKind;
  losingResellerId: number;
  gainingResellerId: number | null;
  options: Record<string, unknown>;
  /** One item per product, in the order the submitter gave them. */
  itemNames: string[];
  /** Per item, same order as itemNames; omitted = every item is a domain. */
  itemProducts?: { product: 'domain' | 'package'; id: number | null }[];
  idempotencyKey?: string;
  requestHash?: string;
}

/**
 * Writes the job and all its items in one transaction, then enqueues its chunks. Redis is checked
 * first so an unreachable queue refuses the request before anything is written; if enqueueing
 * still fails after the commit, the job is removed again and the caller gets 503.
 */
export async function createBulkJob(
  deps: Deps,
  spec: NewBulkJob,
  inTx?: (trx: Knex.Transaction, job: BulkJob) => Promise<void>,
): Promise<BulkJob> {
  const { db, config } = deps;
  await assertQueueReachable(deps.redis);
  const chunkSize = config.CHUNK_SIZE;
  const chunkCount = Math.max(1, Math.ceil(spec.itemNames.length / chunkSize));
  const job = await db.transaction(async (trx) => {
    const [row] = await trx('bulk_jobs')
      .insert({
        id: crypto.randomUUID(),
        kind: spec.kind,
        status: 'queued',
        losing_reseller_id: spec.losingResellerId,
        gaining_reseller_id: spec.gainingResellerId,
        options: JSON.stringify(spec.options),
        total: spec.itemNames.length,
        chunk_count: chunkCount,
        idempotency_key: spec.idempotencyKey ?? null,
        request_hash: spec.requestHash ?? null,
      })
      .returning('*');
    await assertQuota(trx, config, spec.losingResellerId, row.id, spec.itemNames.length);
    const chunks = spec.itemNames.map((_, i) => Math.floor(i / chunkSize));
    const products = spec.itemProducts ?? spec.itemNames.map(() => ({ product: 'domain' as const, id: null }));
    for (let start = 0; start < spec.itemNames.length; start += 10_000) {
      const slice = products.slice(start, start + 10_000);
      await trx.raw(
        `insert into bulk_job_items (job_id, domain_name, chunk, product, product_id)
         select ?, n, c, p, pid from unnest(?::text[], ?::int[], ?::text[], ?::bigint[]) as t(n, c, p, pid)`,
        [
          row.id,
          spec.itemNames.slice(start, start + 10_000),
          chunks.slice(start, start + 10_000),
          slice.map((x) => x.product),
          slice.map((x) => x.id),
        ] as any[],
      );
    }
    if (inTx) await inTx(trx, row);
    return row as BulkJob;
  });
  try {
    await enqueueChunks(deps.queues, job, [...Array(chunkCount).keys()]);
  } catch (err) {
    await db('bulk_jobs').where({ id: job.id }).del();
    throw err;
  }
  deps.log.info({ job_id: job.id, kind: job.kind, total: job.total, chunks: chunkCount }, 'bulk job queued');
  return job;
}
