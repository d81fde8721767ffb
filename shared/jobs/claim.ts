import type { Deps } from '../deps';
import type { BulkJob, ItemRow } from './model';

/**
 * Marks a chunk's items running and returns them. The job row is held FOR SHARE so a cancel or
 * suspend (which updates that row) waits for in-flight claims and no item starts after it is
 * acknowledged. Items already `running` are taken back: they belong to an attempt that died.
 * A cancelling or suspended job only gets its in-hand items back, never new ones.
 */
export async function claimChunk(deps: Deps, jobId: string, chunk: number): Promise<{ job: BulkJob; items: ItemRow[] } | null> {
  const { db } = deps;
  await db('bulk_jobs')
    .where({ id: jobId, status: 'queued' })
    .update({ status: 'running', started_at: db.raw('coalesce(started_at, now())') });
  return db.transaction(async (trx) => {
    const job: BulkJob | undefined = await trx('bulk_jobs').where({ id: jobId }).forShare().first();
    if (!job) return null;
    const claimable =
      job.status === 'running' ? ['pending', 'running'] : ['cancelling', 'suspended'].includes(job.status) ? ['running'] : [];
    if (claimable.length === 0) return { job, items: [] };
    const items: ItemRow[] = await trx('bulk_job_items')
      .where({ job_id: jobId, chunk })
      .whereIn('status', claimable)
      .update({ status: 'running', started_at: trx.raw('coalesce(started_at, now())') })
      .returning('*');
    items.sort((a, b) => Number(a.id) - Number(b.id));
    return { job, items };
  });
}
