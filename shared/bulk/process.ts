import type { Deps } from '../platform/deps';
import type { BulkKind } from '../platform/queues';
import { claimChunk, keepLease, lockChunk, type ItemHandler } from './claim';
import { finalizeIfDone } from './finalize';
import { leaseFree } from './model';
import { pendingRelocks, pushHandler, relock } from '../push/handler';
import { releaseHandler } from '../customers/release';

/** Every kind of bulk job and how it does its items (the type makes a missing kind a compile error). */
const handlers: Record<BulkKind, ItemHandler> = { push: pushHandler, release: releaseHandler };

function handlerFor(kind: BulkKind): ItemHandler {
  const handler = handlers[kind];
  if (!handler) throw new Error(`no item handler for bulk job kind ${kind}`);
  return handler;
}

function countProcessed(deps: Deps, kind: BulkKind, counts: Record<string, number>) {
  for (const [status, n] of Object.entries(counts)) deps.metrics.itemsProcessed.inc({ kind, status }, n);
}

/**
 * A chunk names a job this database does not have (another deployment's chunk on a shared prefix,
 * or a job deleted after a failed enqueue). It is never completed as if done: it fails, visibly.
 */
export class UnknownBulkJob extends Error {
  constructor(
    readonly jobId: string,
    readonly chunk: number,
  ) {
    super(`bulk job ${jobId} is not in this deployment's database; chunk ${chunk} left failed, not processed`);
    this.name = 'UnknownBulkJob';
  }
}

export interface ChunkOutcome {
  done: number;
  status: string;
  /** Items this attempt finished, by status (what the dashboard shows as the chunk's result). */
  counts: Record<string, number>;
  /** Some items are in another live attempt's hands until then: look again after it. */
  retryAt: Date | null;
}

/**
 * One chunk of one bulk job. Safe to run again at any point (a stalled BullMQ job does): finished
 * items are never touched twice, domains a dead attempt unlocked are locked again first, and items
 * a live attempt holds are left to it.
 */
export async function processChunk(
  deps: Deps,
  jobId: string,
  chunk: number,
  signal?: AbortSignal,
  onProgress?: (finished: number, inHand: number) => Promise<void>,
): Promise<ChunkOutcome> {
  const owed = await pendingRelocks(deps, { job_id: jobId, chunk });
  if (owed.length) await relock(deps, owed);
  if (signal?.aborted) return { done: 0, status: 'aborted', counts: {}, retryAt: null };
  const claimed = await claimChunk(deps, handlerFor, jobId, chunk);
  if (!claimed) throw new UnknownBulkJob(jobId, chunk);
  const { job, handler, deferred } = claimed;
  const kind = job.kind;
  countProcessed(deps, kind, claimed.counts);
  const counts = { ...claimed.counts };
  await onProgress?.(claimed.done, claimed.done + deferred.length);
  if (deferred.length) {
    if (!handler.deferred) throw new Error(`bulk job kind ${kind} deferred items but has no deferred step`);
    const release = keepLease(deps, deferred);
    try {
      const later = await handler.deferred(deps, job, deferred);
      countProcessed(deps, kind, later);
      for (const [status, n] of Object.entries(later)) counts[status] = (counts[status] ?? 0) + n;
    } finally {
      await release();
    }
  }
  if (claimed.done + deferred.length > 0) {
    deps.log.info(
      {
        job_id: jobId,
        chunk,
        kind,
        reseller: job.losing_reseller_id,
        items: claimed.done + deferred.length,
        registry_path: deferred.length,
      },
      'chunk processed',
    );
  }
  await finalizeIfDone(deps, jobId);
  return { done: claimed.done + deferred.length, status: job.status, counts, retryAt: claimed.heldElsewhereUntil };
}

/**
 * Retries ran out: a job-level fault. The chunk's unfinished items fail with the error and the job
 * is marked so that it ends `failed`, with every item still accounted for.
 */
export async function failChunk(deps: Deps, jobId: string, chunk: number, message: string): Promise<void> {
  const text = message.slice(0, 1000);
  await deps.db.transaction(async (trx) => {
    await lockChunk(trx, jobId, chunk);
    // Items a live attempt still holds (unexpired lease) are left to it.
    const failed = await trx('bulk_job_items')
      .where({ job_id: jobId, chunk })
      .where((b) => b.where({ status: 'pending' }).orWhere((r) => leaseFree(r.where({ status: 'running' }), trx)))
      .update({ status: 'failed', reason: 'error', message: text, finished_at: trx.fn.now() });
    // Items all done (only a relock kept failing) is no job-level fault: the reconciler relocks.
    if (failed)
      await trx('bulk_jobs')
        .where({ id: jobId })
        .whereNull('error')
        .update({ error: `chunk ${chunk}: ${text}` });
  });
  const owed = await pendingRelocks(deps, { job_id: jobId, chunk });
  if (owed.length) await relock(deps, owed).catch((err) => deps.log.error({ job_id: jobId, err: err.message }, 'relock failed'));
  await finalizeIfDone(deps, jobId);
}
