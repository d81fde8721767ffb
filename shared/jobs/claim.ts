import type { Deps } from '../deps';
import type { BulkJob, ItemRow } from './model';

export interface Claim {
  job: BulkJob;
  items: ItemRow[];
  /** When another live attempt holds some of the chunk's items: the end of its lease. */
  heldElsewhereUntil: Date | null;
}

/**
 * Marks a chunk's items running under a lease and returns them. The job row is held FOR SHARE so
 * a cancel or suspend (which updates that row) waits for in-flight claims and no item starts after
 * it is acknowledged. A `running` item is taken over only when its lease has run out (its attempt
 * died); a cancelling or suspended job only gets such in-hand items back, never new ones.
 */
export async function claimChunk(deps: Deps, jobId: string, chunk: number): Promise<Claim | null> {
  const { db } = deps;
  const leaseMs = deps.config.WORKER_LOCK_MS;
  await db('bulk_jobs')
    .where({ id: jobId, status: 'queued' })
    .update({ status: 'running', started_at: db.raw('coalesce(started_at, now())') });
  return db.transaction(async (trx) => {
    const job: BulkJob | undefined = await trx('bulk_jobs').where({ id: jobId }).forShare().first();
    if (!job) return null;
    const takesNew = job.status === 'running';
    const takesOver = takesNew || job.status === 'cancelling' || job.status === 'suspended';
    if (!takesOver) return { job, items: [], heldElsewhereUntil: null };
    const items: ItemRow[] = await trx('bulk_job_items')
      .where({ job_id: jobId, chunk })
      .where((b) => {
        if (takesNew) b.orWhere({ status: 'pending' });
        b.orWhere((r) => r.where({ status: 'running' }).where((l) => l.whereNull('lease_until').orWhere('lease_until', '<', trx.fn.now())));
      })
      .update({
        status: 'running',
        started_at: trx.raw('coalesce(started_at, now())'),
        lease_until: trx.raw(`now() + (? * interval '1 millisecond')`, [leaseMs]),
      })
      .returning('*');
    items.sort((a, b) => Number(a.id) - Number(b.id));
    const held = await trx('bulk_job_items')
      .where({ job_id: jobId, chunk, status: 'running' })
      .whereNotIn('id', items.map((i) => i.id))
      .max('lease_until as until')
      .first();
    return { job, items, heldElsewhereUntil: held?.until ? new Date(held.until) : null };
  });
}

/**
 * Keeps the lease of the items in hand alive while the chunk is worked on (registry calls can be
 * slow), through the relock that follows the push. The returned function ends it: the items are
 * then free for a retry or the reconciler to finish (e.g. a relock that failed).
 */
export function keepLease(deps: Deps, items: ItemRow[]): () => Promise<void> {
  const leaseMs = deps.config.WORKER_LOCK_MS;
  const ids = items.map((i) => i.id);
  const timer = setInterval(() => {
    deps.db('bulk_job_items')
      .whereIn('id', ids)
      .update({ lease_until: deps.db.raw(`now() + (? * interval '1 millisecond')`, [leaseMs]) })
      .catch((err) => deps.log.warn({ err: err.message }, 'could not renew item lease'));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();
  return async () => {
    clearInterval(timer);
    await deps.db('bulk_job_items').whereIn('id', ids).update({ lease_until: null });
  };
}
