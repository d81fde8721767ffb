import type { Deps } from '../platform/deps';
import { keepLease, takeChunk } from './take';
import { lockChunk } from './locks';
import { finalizeIfDone } from './finalize';
import { kindOf, type BulkDeps, type SweepScope } from './kind';
import { leaseFree } from './model';
import { outcomeText } from './outcome';
import { startChunk } from './unstarted';

function countProcessed(deps: Deps, kind: string, counts: Record<string, number>) {
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
  /** When this chunk ended the job: its outcome in words ("completed with 2 failures (5 of 7 pushed)"). */
  jobEnded?: string;
}

/**
 * One chunk of one bulk job. Safe to run again at any point (a stalled BullMQ job does): finished
 * items are never touched twice, what a dead attempt left owed is done first (the kinds' sweeps: a
 * push relocks the domains it unlocked), and items a live attempt holds are left to it.
 */
export async function processChunk(
  deps: BulkDeps,
  jobId: string,
  chunk: number,
  signal?: AbortSignal,
  onProgress?: (finished: number, inHand: number) => Promise<void>,
): Promise<ChunkOutcome> {
  await sweep(deps, { job_id: jobId, chunk });
  if (signal?.aborted) return { done: 0, status: 'aborted', counts: {}, retryAt: null };
  const taken = await takeChunk(deps, (kind) => kindOf(deps.kinds, kind), jobId, chunk);
  if (!taken) throw new UnknownBulkJob(jobId, chunk);
  const { job, handler, deferred } = taken;
  const kind = job.kind;
  countProcessed(deps, kind, taken.counts);
  const counts = { ...taken.counts };
  if (deferred.length) {
    // Worth telling only before a registry step: a chunk done in its take is told once, at its end.
    await onProgress?.(taken.done, taken.done + deferred.length);
    if (!handler.deferred) throw new Error(`bulk job kind ${kind} deferred items but has no deferred step`);
    const endLease = keepLease(deps, deferred);
    try {
      const later = await handler.deferred(deps, job, deferred);
      countProcessed(deps, kind, later);
      for (const [status, n] of Object.entries(later)) counts[status] = (counts[status] ?? 0) + n;
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
  // The summary the job ended with (its emails' words) gives the outcome: no second read of it.
  const summary = await finalizeIfDone(deps, jobId);
  const ended = summary ? outcomeText(summary) : undefined;
  return { done: taken.done + deferred.length, status: job.status, counts, retryAt: taken.heldElsewhereUntil, jobEnded: ended };
}

/**
 * Retries ran out: a job-level fault. The chunk's unfinished items fail with the error and the job
 * is marked so that it ends `failed`, with every item still accounted for.
 */
export async function failChunk(deps: BulkDeps, jobId: string, chunk: number, message: string): Promise<void> {
  const text = message.slice(0, 1000);
  await deps.db.transaction(async (trx) => {
    // The job row first, as a cancel takes it (then the chunk): never the other order, which could deadlock.
    await trx('bulk_jobs').where({ id: jobId }).forShare().first('id');
    await lockChunk(trx, jobId, chunk);
    const endedAs = { status: 'failed', reason: 'error', message: text };
    const unstarted = await startChunk(trx, jobId, chunk, endedAs);
    // Items a live attempt still holds (unexpired lease) are left to it.
    const failed =
      unstarted +
      (await trx('bulk_job_items')
        .where({ job_id: jobId, chunk })
        .where((b) => b.where({ status: 'pending' }).orWhere((r) => leaseFree(r.where({ status: 'running' }), trx)))
        .update({ ...endedAs, finished_at: trx.fn.now() }));
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
async function sweep(deps: BulkDeps, scope: SweepScope): Promise<number> {
  let done = 0;
  for (const kind of Object.values(deps.kinds)) if (kind.sweep) done += await kind.sweep.run(deps, scope);
  return done;
}
