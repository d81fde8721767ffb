import { chunkJobId } from '../platform/queues';
import { enqueueNamedChunks } from './chunk-names';
import { cancelJob, cancelPendingLater, openChunks } from './control';
import { finalizeIfDone } from './finalize';
import { kindOf, type BulkDeps } from './kind';
import { OPEN_ITEM, type BulkJob } from './model';

const LIVE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * Postgres is the truth, Redis only holds work. Re-enqueues every chunk of an unfinished job that
 * has no live BullMQ job (Redis restarted or flushed), runs each kind's sweep (push: relocks what a
 * dead attempt left unlocked), ends jobs whose items are all done, and cancels jobs suspended
 * longer than SUSPEND_TTL.
 */
export async function reconcile(deps: BulkDeps) {
  const report = { requeued: 0, swept: 0, finalized: 0, expired: 0 };
  const { db, config } = deps;

  const expired: BulkJob[] = await db('bulk_jobs')
    .where({ status: 'suspended' })
    .where('suspended_at', '<', new Date(deps.clock().getTime() - config.SUSPEND_TTL_SECONDS * 1000))
    .select('id');
  for (const j of expired) {
    await cancelJob(deps, null, j.id, { reason: 'suspend_expired', message: 'The job stayed suspended past SUSPEND_TTL.' });
    report.expired++;
  }

  // A cancel answered before its pending items were cancelled, whose process died before it finished.
  const halfCancelled: BulkJob[] = await db('bulk_jobs')
    .where({ status: 'cancelling' })
    .where((b) =>
      b
        .whereExists(db('bulk_job_items').whereRaw('job_id = bulk_jobs.id').where({ status: 'pending' }))
        .orWhereExists(db('bulk_job_chunks').whereRaw('job_id = bulk_jobs.id')),
    )
    .select('id');
  for (const j of halfCancelled) await cancelPendingLater(deps, j.id);

  const unfinished: BulkJob[] = await db('bulk_jobs').whereIn('status', ['queued', 'running', 'cancelling', 'suspended']);
  const liveJobs = unfinished.length ? await deps.queues.bulk.getJobs([...LIVE_STATES], 0, -1) : [];
  const live = new Set(liveJobs.filter(Boolean).map((j) => `${j.data.jobId}:${j.data.chunk}`));
  for (const job of unfinished) {
    // Queued/running jobs need every open chunk; cancelling/suspended ones only finish items in hand.
    const statuses = job.status === 'queued' || job.status === 'running' ? [...OPEN_ITEM] : ['running'];
    const chunks = await openChunks(deps, job.id, statuses);
    const missing = chunks.filter((c) => !live.has(`${job.id}:${c}`));
    if (missing.length) {
      const [row] = await db('bulk_jobs').where({ id: job.id }).increment('generation', 1).returning('*');
      await enqueueNamedChunks(deps, kindOf(deps.kinds, row.kind).jobName, row, missing);
      deps.log.warn(
        { job_id: job.id, chunks: missing.length, first: chunkJobId(job.id, row.generation, missing[0]) },
        'reconciler re-enqueued chunks',
      );
      report.requeued += missing.length;
    }
  }

  // After the re-enqueue, so a registry outage cannot hold up recovery from a Redis loss.
  for (const kind of Object.values(deps.kinds)) {
    if (!kind.sweep) continue;
    try {
      report.swept += await kind.sweep.run(deps, {});
    } catch (err) {
      deps.log.error({ kind: kind.name, err: (err as Error).message }, 'reconciler sweep failed');
    }
  }
  for (const job of unfinished) if (await finalizeIfDone(deps, job.id)) report.finalized++;
  return report;
}
