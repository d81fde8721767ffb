import type { Deps } from '../platform/deps';
import { keepLease, lockChunk, takeChunk } from './take';
import { finalizeIfDone } from './finalize';
import { kindOf, type BulkDeps, type SweepScope } from './kind';
import { leaseFree } from './model';

function countProcessed(deps: Deps, kind: string, counts: Record<string, number>) {
  for (const [status, n] of Object.entries(counts)) deps.metrics.itemsProcessed.inc({ kind, status }, n);
}

export interface ChunkOutcome {
  done: number;
  status: string;
  /** Some items are in another live attempt's hands until then: look again after it. */
  retryAt: Date | null;
}

/**
 * One chunk of one bulk job. Safe to run again at any point (a stalled BullMQ job does): finished
 * items are never touched twice, what a dead attempt left owed is done first (the kinds' sweeps: a
 * push relocks the domains it unlocked), and items a live attempt holds are left to it.
 */
export async function processChunk(deps: BulkDeps, jobId: string, chunk: number, signal?: AbortSignal): Promise<ChunkOutcome> {
  await sweep(deps, { job_id: jobId, chunk });
  if (signal?.aborted) return { done: 0, status: 'aborted', retryAt: null };
  const taken = await takeChunk(deps, (kind) => kindOf(deps.kinds, kind).handler, jobId, chunk);
  if (!taken) return { done: 0, status: 'gone', retryAt: null };
  const { job, handler, deferred } = taken;
  const kind = job.kind;
  countProcessed(deps, kind, taken.counts);
  if (deferred.length) {
    if (!handler.deferred) throw new Error(`bulk job kind ${kind} deferred items but has no deferred step`);
    const endLease = keepLease(deps, deferred);
    try {
      countProcessed(deps, kind, await handler.deferred(deps, job, deferred));
    } finally {
      await endLease();
    }
  }
  if (taken.done + deferred.length > 0) {
    deps.log.info(
      {
        job_id: jobId,
        chunk,
        kind,
        reseller: job.losing_reseller_id,
        items: taken.done + deferred.length,
        registry_path: deferred.length,
      },
      'chunk processed',
    );
  }
  await finalizeIfDone(deps, jobId);
  return { done: taken.done + deferred.length, status: job.status, retryAt: taken.heldElsewhereUntil };
}

/**
 * Retries ran out: a job-level fault. The chunk's unfinished items fail with the error and the job
 * is marked so that it ends `failed`, with every item still accounted for.
 */
export async function failChunk(deps: BulkDeps, jobId: string, chunk: number, message: string): Promise<void> {
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
  await sweep(deps, { job_id: jobId, chunk }).catch((err) => deps.log.error({ job_id: jobId, err: err.message }, 'sweep failed'));
  await finalizeIfDone(deps, jobId);
}

/**
 * Does the work kinds owe for a scope (push: relock what a dead attempt left unlocked) before the
 * chunk is taken again. Every kind's sweep runs: one indexed probe each, and a sweep finds nothing
 * on another kind's job, so the chunk's kind need not be read first.
 */
export async function sweep(deps: BulkDeps, scope: SweepScope): Promise<number> {
  let done = 0;
  for (const kind of Object.values(deps.kinds)) if (kind.sweep) done += await kind.sweep.run(deps, scope);
  return done;
}
