import type { Deps } from '../platform/deps';
import { Conflict } from '../platform/errors';
import type { Reseller } from '../accounts/resellers';
import { enqueueNamedChunks } from './chunk-names';
import { finalizeIfDone } from './finalize';
import { kindOf, type BulkDeps } from './kind';
import { countItems, FINISHED_JOB, jobFor, loadJob, type BulkJob } from './model';
import { endUnstarted, unstartedChunks } from './unstarted';
import { passJobGate } from './locks';

/**
 * Pending items a cancel turns `cancelled` within the request. A bigger job's pending items are
 * cancelled right after the answer, in batches: rewriting 19,000 item rows took the cancel of a
 * 20,000-domain push 1.5-4 s. Nothing is lost by answering first: the job is `cancelling` from
 * the acknowledgment on, so no pending item starts, and the reconciler finishes the batches if
 * this process dies before it does.
 */
const CANCEL_IN_REQUEST = 2_000;
const CANCEL_BATCH = 5_000;

interface CancelReason {
  reason?: string;
  message?: string;
}

/**
 * Stops a job: no item starts after this returns (takes hold the job row FOR SHARE, this locks it
 * FOR UPDATE), items not started end `cancelled`, items in hand finish. Answers `cancelled` when
 * nothing was in hand, else `cancelling` until the last one ends.
 */
export async function cancelJob(
  deps: BulkDeps,
  me: Reseller | null,
  id: string,
  opts: { kind?: string } & CancelReason = {},
): Promise<{ status: string }> {
  let later = false;
  let big = false;
  await deps.db.transaction(async (trx) => {
    await passJobGate(trx, id, 'exclusive');
    const job = me ? await jobFor(trx, me.id, id, 'control', { kind: opts.kind, forUpdate: true }) : await loadJob(trx, id, true);
    if (!job) return;
    if (job.status === 'cancelling') return;
    if (FINISHED_JOB.includes(job.status)) {
      throw new Conflict('job_finished', `The job has already ended (${job.status}); there is nothing to cancel.`);
    }
    await trx('bulk_jobs').where({ id: job.id }).update({ status: 'cancelling', cancel_requested_at: trx.fn.now() });
    // Pending items, started or not: the counters have both.
    later = ((await countItems(trx, job.id)).pending ?? 0) > CANCEL_IN_REQUEST;
    big = Number(job.total) > CANCEL_IN_REQUEST;
    if (!later) await cancelPendingItems(trx, job.id, opts);
  });
  if (later) {
    cancelPendingLater(deps, id, opts).catch((err) =>
      deps.log.error({ job_id: id, err: (err as Error).message }, 'cancelling pending items failed; the reconciler will finish'),
    );
  } else if (big) {
    // A big job's end reads its items (the gaining notice's list, the first items not done:
    // seconds at 500,000): after the answer, like its pending items; the reconciler ends the job
    // if this process dies first.
    finalizeIfDone(deps, id).catch((err) =>
      deps.log.error({ job_id: id, err: (err as Error).message }, 'ending a cancelled job failed; the reconciler will finish'),
    );
  } else {
    await finalizeIfDone(deps, id);
  }
  const after = await loadJob(deps.db, id);
  deps.log.info(
    { job_id: id, kind: after?.kind, reseller: me?.username ?? null, by: me ? 'reseller' : 'system', status: after?.status },
    'bulk job cancel requested',
  );
  return { status: after!.status };
}

/** Up to `limit` pending items end `cancelled`: unstarted chunks first (whole chunks), then item rows. */
async function cancelPendingItems(db: Deps['db'], jobId: string, opts: CancelReason, limit?: number): Promise<number> {
  const endedAs = {
    status: 'cancelled',
    reason: opts.reason ?? 'cancelled',
    message: opts.message ?? 'The job was cancelled before this item started.',
  };
  const unstarted = await endUnstarted(db, jobId, endedAs, limit);
  if (limit && unstarted >= limit) return unstarted;
  const items = db('bulk_job_items').where({ job_id: jobId, status: 'pending' });
  const scope = limit
    ? db('bulk_job_items')
        .whereIn(
          'id',
          items
            .clone()
            .select('id')
            .limit(limit - unstarted),
        )
        .where({ status: 'pending' })
    : items;
  return unstarted + (await scope.update({ ...endedAs, finished_at: db.fn.now() }));
}

/** The pending items of a `cancelling` job, in batches, then the job's end. Also the reconciler's repair. */
export async function cancelPendingLater(deps: BulkDeps, jobId: string, opts: CancelReason = {}): Promise<void> {
  while ((await cancelPendingItems(deps.db, jobId, opts, CANCEL_BATCH)) > 0);
  await finalizeIfDone(deps, jobId);
}

/** A scheduled, queued or running job stops taking new items; items in hand finish. A scheduled one does not start. */
export async function suspendJob(deps: Deps, me: Reseller, id: string, kind?: string) {
  const job = await deps.db.transaction(async (trx) => {
    await passJobGate(trx, id, 'exclusive');
    const j = await jobFor(trx, me.id, id, 'control', { kind, forUpdate: true });
    if (j.status !== 'scheduled' && j.status !== 'queued' && j.status !== 'running') {
      throw new Conflict('invalid_state', `A ${j.status} job cannot be suspended.`);
    }
    // The app clock, not the database's: the reconciler measures SUSPEND_TTL against deps.clock().
    await trx('bulk_jobs').where({ id: j.id }).update({ status: 'suspended', suspended_at: deps.clock() });
    return j;
  });
  deps.log.info({ job_id: job.id, kind: job.kind, reseller: me.username, status: 'suspended' }, 'bulk job suspended');
  return { status: 'suspended' };
}

/**
 * Continues where it stopped: the chunks that still have pending items are enqueued again; a job
 * suspended before its start waits again for its start time if that is still ahead. Items
 * in hand stay with the attempt holding them (their lease); if it died, BullMQ's stalled recovery
 * or the reconciler picks them up.
 */
export async function resumeJob(deps: BulkDeps, me: Reseller, id: string, kind?: string) {
  const job = await deps.db.transaction(async (trx) => {
    const j = await jobFor(trx, me.id, id, 'control', { kind, forUpdate: true });
    if (j.status !== 'suspended') throw new Conflict('invalid_state', `A ${j.status} job cannot be resumed.`);
    const waits = !j.started_at && !!j.start_at && new Date(j.start_at) > deps.clock();
    const [row]: BulkJob[] = await trx('bulk_jobs')
      .where({ id: j.id })
      .update({
        status: j.started_at ? 'running' : waits ? 'scheduled' : 'queued',
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
  // A job waiting for its start is enqueued by the scheduler when the time comes.
  const chunks = job.status === 'scheduled' ? [] : await openChunks(deps, job.id, ['pending']);
  await enqueueNamedChunks(deps, kindOf(deps.kinds, job.kind).jobName, job, chunks);
  await finalizeIfDone(deps, job.id);
  const status = (await loadJob(deps.db, job.id))!.status;
  deps.log.info({ job_id: job.id, kind: job.kind, reseller: me.username, status, chunks: chunks.length }, 'bulk job resumed');
  return { status };
}

/** Chunks with items in any of `statuses`; unstarted chunks count as `pending`. */
export async function openChunks(deps: Deps, jobId: string, statuses: string[]): Promise<number[]> {
  const rows = await deps.db('bulk_job_items').where({ job_id: jobId }).whereIn('status', statuses).distinct('chunk');
  const chunks = new Set(rows.map((r) => Number(r.chunk)));
  if (statuses.includes('pending')) for (const c of await unstartedChunks(deps.db, jobId)) chunks.add(c);
  return [...chunks].sort((a, b) => a - b);
}
