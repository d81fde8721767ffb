import type { Knex } from 'knex';
import type { ItemRow, ItemStatus } from './model';

export interface ItemResult {
  id: number;
  status: ItemStatus;
  reason: string | null;
  message: string | null;
}

/** Re-reads the claimed items under lock: another attempt may have finished some of them meanwhile. */
export function lockLiveItems(trx: Knex.Transaction, items: ItemRow[]): Promise<ItemRow[]> {
  return trx('bulk_job_items')
    .whereIn(
      'id',
      items.map((i) => i.id),
    )
    .where({ status: 'running' })
    .orderBy('id')
    .forUpdate();
}

/** Writes every item's outcome in one statement; returns the count per status (for metrics). */
export async function recordResults(trx: Knex.Transaction, results: ItemResult[]): Promise<Record<string, number>> {
  if (results.length) {
    await trx.raw(
      `update bulk_job_items i set status = u.status, reason = u.reason, message = u.message,
         started_at = coalesce(i.started_at, now()), finished_at = now()
       from unnest(?::bigint[], ?::text[], ?::text[], ?::text[]) as u(id, status, reason, message) where i.id = u.id`,
      // biome-ignore lint/suspicious/noExplicitAny: typed unnest bindings come with the engine refactor (issue 8 item 4)
      [results.map((r) => r.id), results.map((r) => r.status), results.map((r) => r.reason), results.map((r) => r.message)] as any[],
    );
  }
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}
