import type { Deps } from '../deps';
import type { BulkKind } from '../queues';
import { claimChunk } from './claim';
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

/**
 * One chunk of one bulk job. Safe to run again at any point (a stalled BullMQ job does): finished
 * items are never touched twice, domains a dead attempt unlocked are locked again first.
 */
export async function processChunk(deps: Deps, jobId: string, chunk: number, signal?: AbortSignal): Promise<string> {
  const owed = await pendingRelocks(deps, { job_id: jobId, chunk });
  if (owed.length) await relock(deps, owed);
  if (signal?.aborted) return 'aborted';
  const claimed = await claimChunk(deps, jobId, chunk);
  if (!claimed) return 'gone';
  const { job, items } = claimed;
  if (items.length) {
    const handler = handlers.get(job.kind);
    if (!handler) throw new Error(`no item handler for bulk job kind ${job.kind}`);
    await handler(deps, job, items);
  }
  await finalizeIfDone(deps, jobId);
  return items.length ? `done ${items.length}` : job.status;
}

/** Retries ran out: the chunk's unfinished items fail with the error, so the job can still end. */
export async function failChunk(deps: Deps, jobId: string, chunk: number, message: string): Promise<void> {
  await deps.db('bulk_job_items')
    .where({ job_id: jobId, chunk })
    .whereIn('status', ['pending', 'running'])
    .update({ status: 'failed', reason: 'error', message: message.slice(0, 1000), finished_at: deps.db.fn.now() });
  const owed = await pendingRelocks(deps, { job_id: jobId, chunk });
  if (owed.length) await relock(deps, owed).catch((err) => deps.log.error({ job_id: jobId, err: err.message }, 'relock failed'));
  await finalizeIfDone(deps, jobId);
}
