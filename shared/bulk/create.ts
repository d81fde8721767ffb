import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Deps } from '../platform/deps';
import { delayFor, type RetryPolicy } from '../platform/retry';
import { assertQueueReachable } from '../platform/queues';
import { recordJobEvent } from '../events/events';
import { enqueueNamedChunks } from './chunk-names';
import type { BaseOptions, BulkKindDef } from './kind';
import type { BulkJob, Submitter } from './model';
import { assertQuota } from './quota';
import { writeUnstartedChunks } from './unstarted';
import { type FinishedItem, writeFinishedItems } from './finished';

interface NewBulkJob<O extends BaseOptions> {
  losingResellerId: number;
  gainingResellerId: number | null;
  /** The customer a release acts for. */
  customerId?: number | null;
  /** The kind's options; when-to-start fields default (at once). */
  options: Omit<O, 'start_after_seconds' | 'start_at_requested'> & Partial<Pick<BaseOptions, 'start_after_seconds' | 'start_at_requested'>>;
  /** One item per product, in the order the submitter gave them. */
  itemNames: string[];
  /**
   * Instead of itemNames: a query whose rows are the items, one unique `name` column each, taken in
   * name order. Postgres reads and chunks them inside the submit's transaction (INSERT … SELECT),
   * so the names of a 500,000-domain job never pass through this process; `total` is what it read.
   */
  itemsFrom?: { sql: string; bindings: readonly Knex.RawBinding[] };
  /** Per item, same order as itemNames; omitted = every item is a domain. */
  itemProducts?: { product: 'domain' | 'package'; id: number | null }[];
  /** Items ended at submit (skipped invalid entries): counted in `total`, never enqueued (finished.ts). */
  finishedItems?: FinishedItem[];
  idempotencyKey?: string;
  requestHash?: string;
  /** When the job starts; null or past: at once. A job that waits is `scheduled` and enqueued by the scheduler. */
  startAt?: Date | null;
  submittedBy?: Submitter | null;
}

/**
 * Writes the job and its items (as unstarted chunks: one row per chunk, see unstarted.ts) in one
 * transaction, then enqueues its chunks. Redis is checked
 * first so an unreachable queue refuses the request (503) before anything is written. Once the
 * transaction has committed the job exists and runs: the enqueue is only a wake-up. If it fails
 * (Redis gone, or its reply lost after it did the work) the job is never removed, since workers may
 * already be pushing its domains; it is enqueued again shortly, and the reconciler enqueues
 * whatever Redis still lacks.
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
  let itemCount = spec.itemNames.length;
  let chunkCount = Math.max(1, Math.ceil(itemCount / chunkSize));
  // A wrong option is a programming error in the kind: refused here, before anything is written.
  const options = kind.options.parse(spec.options);
  const waits = !!spec.startAt && spec.startAt.getTime() > deps.clock().getTime();
  const job = await db.transaction(async (trx) => {
    const [row] = await trx('bulk_jobs')
      .insert({
        id: crypto.randomUUID(),
        kind: kind.name,
        status: waits ? 'scheduled' : 'queued',
        start_at: spec.startAt ?? null,
        submitted_by: spec.submittedBy ? JSON.stringify(spec.submittedBy) : null,
        losing_reseller_id: spec.losingResellerId,
        gaining_reseller_id: spec.gainingResellerId,
        customer_id: spec.customerId ?? null,
        options: JSON.stringify(options),
        total: spec.itemNames.length + (spec.finishedItems?.length ?? 0),
        chunk_count: chunkCount,
        idempotency_key: spec.idempotencyKey ?? null,
        request_hash: spec.requestHash ?? null,
      })
      .returning('*');
    if (spec.itemsFrom) {
      itemCount = await writeChunksFrom(trx, row.id, spec.itemsFrom, chunkSize);
      chunkCount = Math.max(1, Math.ceil(itemCount / chunkSize));
      const total = itemCount + (spec.finishedItems?.length ?? 0);
      Object.assign(row, { total, chunk_count: chunkCount });
      await trx('bulk_jobs').where({ id: row.id }).update({ total, chunk_count: chunkCount });
    }
    await assertQuota(trx, config, spec.losingResellerId, row.id, itemCount);
    if (!spec.itemsFrom) {
      const products = spec.itemProducts;
      await writeUnstartedChunks(
        trx,
        row.id,
        spec.itemNames.map((name, i) => ({ name, product: products?.[i].product, productId: products?.[i].id })),
        chunkSize,
      );
    }
    await writeFinishedItems(trx, row.id, chunkCount, spec.finishedItems ?? []);
    if (inTx) await inTx(trx, row);
    await recordJobEvent(trx, 'bulk_job.scheduled', row);
    return row as BulkJob;
  });
  if (waits) {
    deps.log.info({ job_id: job.id, kind: job.kind, total: job.total, start_at: job.start_at }, 'bulk job scheduled');
    return job;
  }
  const chunks = [...Array(chunkCount).keys()];
  try {
    await enqueueNamedChunks(deps, kind.jobName, job, chunks);
  } catch (err) {
    deps.log.warn({ job_id: job.id, err: (err as Error).message }, 'bulk job committed but not known to be enqueued; enqueueing again');
    reEnqueueLater(deps, kind.jobName, job, chunks);
  }
  deps.log.info({ job_id: job.id, kind: job.kind, total: job.total, chunks: chunkCount }, 'bulk job queued');
  return job;
}

/**
 * The unstarted chunks of `writeUnstartedChunks` (unstarted.ts), read from a query instead of a
 * list sent by this process, in one statement: a recursive walk takes the next `chunkSize` names
 * after the last one read (an index range scan each, when the query has an index on its filter
 * and `name`), so nothing sorts or groups 500,000 rows (that took 2.7-3.7 times as long, mostly an
 * on-disk sort). Each chunk reserves its item ids from the items' sequence as it is written, in
 * chunk order, so ids increase through the job as they do for a list. Returns the item count.
 */
async function writeChunksFrom(
  trx: Knex.Transaction,
  jobId: string,
  from: NonNullable<NewBulkJob<BaseOptions>['itemsFrom']>,
  chunkSize: number,
): Promise<number> {
  const { rows } = await trx.raw(
    `with recursive r(c, names) as (
       select 0, array(select q.name from (${from.sql}) q order by q.name limit ?::int)
       union all
       select r.c + 1, array(select q.name from (${from.sql}) q where q.name > r.names[?::int] order by q.name limit ?::int)
       from r where cardinality(r.names) = ?::int),
     ins as (
       insert into bulk_job_chunks (job_id, chunk, item_ids, names, products, product_ids)
       select ?::uuid, c, array(select nextval('bulk_job_items_id_seq') from generate_series(1, cardinality(names))), names, null, null
       from r where cardinality(names) > 0
       returning chunk, cardinality(names) as n),
     counted as (
       insert into bulk_job_chunk_counts (job_id, chunk, counts)
       select ?::uuid, chunk, jsonb_build_object('pending', n) from ins
       returning (counts->>'pending')::int as n)
     select coalesce(sum(n), 0)::int as n from counted`,
    [...from.bindings, chunkSize, ...from.bindings, chunkSize, chunkSize, chunkSize, jobId, jobId],
  );
  return Number(rows[0].n);
}

/**
 * Chunk job ids are deterministic, so adding again what Redis already has is a no-op. Six tries in
 * all: five more after the failed one, each after a pause drawn from [0, 1 · 2^n s] (full
 * jitter: 1, 2, 4, 8, 16 s ceilings), so API processes that lost Redis together do not come back together.
 */
export const RE_ENQUEUE_RETRY: RetryPolicy = { attempts: 6, baseMs: 1_000, factor: 2, capMs: 16_000, jitter: 'full' };

function reEnqueueLater(deps: Deps, jobName: string, job: BulkJob, chunks: number[], attempt = 0) {
  if (attempt >= RE_ENQUEUE_RETRY.attempts - 1) {
    deps.log.warn({ job_id: job.id }, 'bulk job still not enqueued; the reconciler will enqueue it');
    return;
  }
  setTimeout(
    () => {
      enqueueNamedChunks(deps, jobName, job, chunks).then(
        () => deps.log.info({ job_id: job.id, attempt: attempt + 1 }, 'bulk job enqueued again'),
        () => reEnqueueLater(deps, jobName, job, chunks, attempt + 1),
      );
    },
    delayFor(RE_ENQUEUE_RETRY, attempt),
  ).unref();
}
