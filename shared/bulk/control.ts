import type { Deps } from '../platform/deps';
import { Conflict } from '../platform/errors';
import { enqueueChunks } from '../platform/queues';
import type { Reseller } from '../accounts/resellers';
import { finalizeIfDone } from './finalize';
import { kindOf, type BulkDeps } from './kind';
import { FINISHED_JOB, jobFor, loadJob, type BulkJob } from './model';

/**
 * Stops a job: no item starts after this returns (takes hold the job row FOR SHARE, this locks it
 * FOR UPDATE), items not started end `cancelled`, items in hand finish. Answers `cancelled` when
 * nothing was in hand, else `cancelling` until the last one ends.
 */
export async function cancelJob(
  deps: BulkDeps,
  me: Reseller | null,
  id: string,
  opts: { kind?: string; reason?: string; message?: string } = {},
): Promise<{ status: string }> {
  await deps.db.transaction(async (trx) => {
    const job = me ? await jobFor(trx, me.id, id, 'control', { kind: opts.kind, forUpdate: true }) : await loadJob(trx, id, true);
    if (!job) return;
    if (job.status === 'cancelling') return;
    if (FINISHED_JOB.includes(job.status)) {
      throw new Conflict('job_finished', `The job has already ended (${job.status}); there is nothing to cancel.`);
    }
    await trx('bulk_jobs').where({ id: job.id }).update({ status: 'cancelling', cancel_requested_at: trx.fn.now() });
    await trx('bulk_job_items')
      .where({ job_id: job.id, status: 'pending' })
      .update({
        status: 'cancelled',
        reason: opts.reason ?? 'cancelled',
        message: opts.message ?? 'The job was cancelled before this item started.',
        finished_at: trx.fn.now(),
      });
  });
  await finalizeIfDone(deps, id);
  const after = await loadJob(deps.db, id);
  deps.log.info(
    { job_id: id, kind: after?.kind, reseller: me?.username ?? null, by: me ? 'reseller' : 'system', status: after?.status },
    'bulk job cancel requested',
  );
  return { status: after!.status };
}

/** A queued or running job stops taking new items; items in hand finish. */
export async function suspendJob(deps: Deps, me: Reseller, id: string, kind?: string) {
  const job = await deps.db.transaction(async (trx) => {
    const j = await jobFor(trx, me.id, id, 'control', { kind, forUpdate: true });
    if (j.status !== 'queued' && j.status !== 'running') {
      throw new Conflict('invalid_state', `A ${j.status} job cannot be suspended.`);
    }
    await trx('bulk_jobs').where({ id: j.id }).update({ status: 'suspended', suspended_at: trx.fn.now() });
    return j;
  });
  deps.log.info({ job_id: job.id, kind: job.kind, reseller: me.username, status: 'suspended' }, 'bulk job suspended');
  return { status: 'suspended' };
}

/**
 * Continues where it stopped: the chunks that still have pending items are enqueued again. Items
 * in hand stay with the attempt holding them (their lease); if it died, BullMQ's stalled recovery
 * or the reconciler picks them up.
 */
export async function resumeJob(deps: BulkDeps, me: Reseller, id: string, kind?: string) {
  const job = await deps.db.transaction(async (trx) => {
    const j = await jobFor(trx, me.id, id, 'control', { kind, forUpdate: true });
    if (j.status !== 'suspended') throw new Conflict('invalid_state', `A ${j.status} job cannot be resumed.`);
    const [row]: BulkJob[] = await trx('bulk_jobs')
      .where({ id: j.id })
      .update({
        status: j.started_at ? 'running' : 'queued',
        suspended_at: null,
        generation: j.generation + 1,
        // Time suspended after the start is not running time (see `rate`).
        suspended_seconds: trx.raw(
          'suspended_seconds + case when started_at is null then 0 else greatest(0, extract(epoch from now() - greatest(suspended_at, started_at))) end',
        ),
      })
      .returning('*');
    return row;
  });
  const chunks = await openChunks(deps, job.id, ['pending']);
  await enqueueChunks(deps.queues, kindOf(deps.kinds, job.kind).jobName, job, chunks);
  await finalizeIfDone(deps, job.id);
  const status = (await loadJob(deps.db, job.id))!.status;
  deps.log.info({ job_id: job.id, kind: job.kind, reseller: me.username, status, chunks: chunks.length }, 'bulk job resumed');
  return { status };
}

export async function openChunks(deps: Deps, jobId: string, statuses: string[]): Promise<number[]> {
  const rows = await deps.db('bulk_job_items').where({ job_id: jobId }).whereIn('status', statuses).distinct('chunk');
  return rows.map((r) => Number(r.chunk)).sort((a, b) => a - b);
}
