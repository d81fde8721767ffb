import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Deps } from '../platform/deps';
import { assertQueueReachable, enqueueChunks } from '../platform/queues';
import { unnest } from '../platform/sql';
import type { BaseOptions, BulkKindDef } from './kind';
import type { BulkJob } from './model';
import { assertQuota } from './quota';

/** Item rows per insert statement: a 50,000-item job is five statements, each well under pg's bind limits. */
export const ITEM_INSERT_BATCH = 10_000;

export interface NewBulkJob<O extends BaseOptions> {
  losingResellerId: number;
  gainingResellerId: number | null;
  /** The customer a release acts for. */
  customerId?: number | null;
  options: O;
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
export async function createBulkJob<O extends BaseOptions>(
  deps: Deps,
  kind: BulkKindDef<O>,
  spec: NewBulkJob<O>,
  inTx?: (trx: Knex.Transaction, job: BulkJob) => Promise<void>,
): Promise<BulkJob> {
  const { db, config } = deps;
  await assertQueueReachable(deps.redis);
  const chunkSize = config.CHUNK_SIZE;
  const chunkCount = Math.max(1, Math.ceil(spec.itemNames.length / chunkSize));
  // A wrong option is a programming error in the kind: refused here, before anything is written.
  const options = kind.options.parse(spec.options);
  const job = await db.transaction(async (trx) => {
    const [row] = await trx('bulk_jobs')
      .insert({
        id: crypto.randomUUID(),
        kind: kind.name,
        status: 'queued',
        losing_reseller_id: spec.losingResellerId,
        gaining_reseller_id: spec.gainingResellerId,
        customer_id: spec.customerId ?? null,
        options: JSON.stringify(options),
        total: spec.itemNames.length,
        chunk_count: chunkCount,
        idempotency_key: spec.idempotencyKey ?? null,
        request_hash: spec.requestHash ?? null,
      })
      .returning('*');
    await assertQuota(trx, config, spec.losingResellerId, row.id, spec.itemNames.length);
    const chunks = spec.itemNames.map((_, i) => Math.floor(i / chunkSize));
    const products = spec.itemProducts ?? spec.itemNames.map(() => ({ product: 'domain' as const, id: null }));
    for (let start = 0; start < spec.itemNames.length; start += ITEM_INSERT_BATCH) {
      const end = start + ITEM_INSERT_BATCH;
      const slice = products.slice(start, end);
      const rows = unnest('t', {
        n: ['text', spec.itemNames.slice(start, end)],
        c: ['int', chunks.slice(start, end)],
        p: ['text', slice.map((x) => x.product)],
        pid: ['bigint', slice.map((x) => x.id)],
      });
      await trx.raw(
        `insert into bulk_job_items (job_id, domain_name, chunk, product, product_id) select ?, n, c, p, pid from ${rows.sql}`,
        [row.id, ...rows.bindings],
      );
    }
    if (inTx) await inTx(trx, row);
    return row as BulkJob;
  });
  try {
    await enqueueChunks(deps.queues, kind.jobName, job, [...Array(chunkCount).keys()]);
  } catch (err) {
    await db('bulk_jobs').where({ id: job.id }).del();
    throw err;
  }
  deps.log.info({ job_id: job.id, kind: job.kind, total: job.total, chunks: chunkCount }, 'bulk job queued');
  return job;
}
