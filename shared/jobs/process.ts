import type { Deps } from '../deps';
import type { BulkKind } from '../queues';
import { claimChunk, keepLease } from './claim';
import { finalizeIfDone } from './finalize';
import type { BulkJob, ItemRow } from './model';
import { pendingRelocks, pushItems, relock } from '../push';

/** How one kind of bulk job does its claimed items. */
export type ItemHandler = (deps: Deps, job: BulkJob, items: ItemRow[]) => Promise<void>;
const handlers = new Map<BulkKind, ItemHandler>([['push', pushItems]]);
export function registerItemHandler(kind: BulkKind, handler: ItemHandler) {
  handlers.set(kind, handler);
}
export function itemHandlerKinds(): BulkKind[] {
  return [...handlers.keys()];
}

export interface ChunkOutcome {
  done: number;
  status: string;
  /** Some items are in another live attempt's hands until then: look again after it. */
  retryAt: Date | null;
}

/**
 * One chunk of one bulk job. Safe to run again at any point (a stalled BullMQ job does): finished
 * items are never touched twice, domains a dead attempt unlocked are locked again first, and items
 * a live attempt holds are left to it.
 */
export async function processChunk(deps: Deps, jobId: string, chunk: number, signal?: AbortSignal): Promise<ChunkOutcome> {
  const owed = await pendingRelocks(deps, { job_id: jobId, chunk });
  if (owed.length) await relock(deps, owed);
  if (signal?.aborted) return { done: 0, status: 'aborted', retryAt: null };
  const claimed = await claimChunk(deps, jobId, chunk);
  if (!claimed) return { done: 0, status: 'gone', retryAt: null };
  const { job, items } = claimed;
  if (items.length) {
    const handler = handlers.get(job.kind);
    if (!handler) throw new Error(`no item handler for bulk job kind ${job.kind}`);
    const release = keepLease(deps, items);
    try {
      await handler(deps, job, items);
    } finally {
      await release();
    }
  }
  await finalizeIfDone(deps, jobId);
  return { done: items.length, status: job.status, retryAt: claimed.heldElsewhereUntil };
}

/** Retries ran out: the chunk's unfinished items fail with the error, so the job can still end. */
export async function failChunk(deps: Deps, jobId: string, chunk: number, message: string): Promise<void> {
  // Items a live attempt still holds (unexpired lease) are left to it.
  await deps.db('bulk_job_items')
    .where({ job_id: jobId, chunk })
    .where((b) => b.where({ status: 'pending' }).orWhere((r) => r.where({ status: 'running' }).where((l) => l.whereNull('lease_until').orWhere('lease_until', '<', deps.db.fn.now()))))
    .update({ status: 'failed', reason: 'error', message: message.slice(0, 1000), finished_at: deps.db.fn.now() });
  const owed = await pendingRelocks(deps, { job_id: jobId, chunk });
  if (owed.length) await relock(deps, owed).catch((err) => deps.log.error({ job_id: jobId, err: err.message }, 'relock failed'));
  await finalizeIfDone(deps, jobId);
}
