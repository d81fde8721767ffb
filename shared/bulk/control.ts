import type { Deps } from '../platform/deps';
import { Conflict } from '../platform/errors';
import type { BulkKind } from '../platform/queues';
import { enqueueNamedChunks } from './chunk-names';
import type { Reseller } from '../accounts/resellers';
import { passJobGate } from './claim';
import { finalizeIfDone } from './finalize';
import { FINISHED_JOB, jobFor, loadJob, type BulkJob } from './model';

/**
 * Stops a job: no item starts after this returns (claims hold the job row FOR SHARE, this takes it
 * FOR UPDATE), items not started end `cancelled`, items in hand finish. Answers `cancelled` when
 * nothing was in hand, else `cancelling` until the last one ends.
 */
export async function cancelJob(
  deps: Deps,
  me: Reseller | null,
  id: string,
  opts: { kind?: BulkKind; reason?: string; message?: string } = {},
): Promise<{ status: string }> {
  await deps.db.transaction(async (trx) => {
    await passJobGate(trx, id, 'exclusive');
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
  deps.log.info({ job_id: id, status: after?.status }, 'bulk job cancel requested');
  return { status: after!.status };
}

/** A queued or running job stops taking new items; items in hand finish. */
export async function suspendJob(deps: Deps, me: Reseller, id: string, kind?: BulkKind) {
  return deps.db.transaction(async (trx) => {
    await passJobGate(trx, id, 'exclusive');
    const job = await jobFor(trx, me.id, id, 'control', { kind, forUpdate: true });
    if (job.status !== 'queued' && job.status !== 'running') {
      throw new Conflict('invalid_state', `A ${job.status} job cannot be suspended.`);
    }
    await trx('bulk_jobs').where({ id: job.id }).update({ status: 'suspended', suspended_at: trx.fn.now() });
    return { status: 'suspended' };
  });
}

/**
 * Continues where it stopped: the chunks that still have pending items are enqueued again. Items
 * in hand stay with the attempt holding them (their lease); if it died, BullMQ's stalled recovery
 * or the reconciler picks them up.
 */
export async function resumeJob(deps: Deps, me: Reseller, id: string, kind?: BulkKind) {
  const job = await deps.db.transaction(async (trx) => {
    const j = await jobFor(trx, me.id, id, 'control', { kind, forUpdate: true });
    if (j.status !== 'suspended') throw new Conflict('invalid_state', `A ${j.status} job cannot be resumed.`);
    const [row]: BulkJob[] = await trx('bulk_jobs')
      .where({ id: j.id })
      .update({ status: j.started_at ? 'running' : 'queued', suspended_at: null, generation: j.generation + 1 })
      .returning('*');
    return row;
  });
  const chunks = await openChunks(deps, job.id, ['pending']);
  await enqueueNamedChunks(deps, job, chunks);
  await finalizeIfDone(deps, job.id);
  return { status: (await loadJob(deps.db, job.id))!.status };
}

export async function openChunks(deps: Deps, jobId: string, statuses: string[]): Promise<number[]> {
  const rows = await deps.db('bulk_job_items').where({ job_id: jobId }).whereIn('status', statuses).distinct('chunk');
  return rows.map((r) => Number(r.chunk)).sort((a, b) => a - b);
}
