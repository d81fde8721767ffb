import type { Knex } from 'knex';
import { unnest } from '../platform/sql';
import type { ItemRow, ItemStatus } from './model';
import { lockChunk } from './locks';

export interface ItemResult {
  id: number;
  status: ItemStatus;
  reason: string | null;
  message: string | null;
}

/**
 * Re-reads the taken items under their chunks' locks (the lock every writer of a chunk's items
 * takes; no row lock, which would write every item row): another attempt may have finished some
 * of them meanwhile.
 */
export async function lockLiveItems(trx: Knex.Transaction, items: ItemRow[]): Promise<ItemRow[]> {
  const chunks = [...new Map(items.map((i) => [`${i.job_id}:${i.chunk}`, i])).values()].sort((a, b) => a.chunk - b.chunk);
  for (const c of chunks) await lockChunk(trx, c.job_id, c.chunk);
  return trx('bulk_job_items')
    .whereIn(
      'id',
      items.map((i) => i.id),
    )
    .where({ status: 'running' })
    .orderBy('id');
}

/** Writes every item's outcome in one statement; returns the count per status (for metrics). */
export async function recordResults(trx: Knex.Transaction, results: ItemResult[]): Promise<Record<string, number>> {
  if (results.length) {
    const u = unnest('u', {
      id: ['bigint', results.map((r) => r.id)],
      status: ['text', results.map((r) => r.status)],
      reason: ['text', results.map((r) => r.reason)],
      message: ['text', results.map((r) => r.message)],
    });
    await trx.raw(
      `update bulk_job_items i set status = u.status, reason = u.reason, message = u.message,
         started_at = coalesce(i.started_at, now()), finished_at = now()
       from ${u.sql} where i.id = u.id`,
      u.bindings,
    );
  }
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}
