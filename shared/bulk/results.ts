import type { Knex } from 'knex';
import { byKey, unnest } from '../platform/sql';
import { leaseSql, type ItemRow, type ItemStatus } from './model';
import { lockChunk } from './locks';

export interface ItemResult {
  id: number;
  status: ItemStatus;
  reason: string | null;
  message: string | null;
  /** Set when the decision itself knows it (a locked domain skipped): otherwise left as the take wrote it. */
  wasLocked?: boolean;
}

/**
 * Re-reads the taken items under their chunks' locks (the lock every writer of a chunk's items
 * takes; no row lock, which would write every item row): another attempt may have finished some
 * of them meanwhile. With `owner`, only the items that attempt still holds: one that took them over
 * did so under the same lock, so an item whose `lease_owner` is still ours is ours to decide.
 */
export async function lockLiveItems(trx: Knex.Transaction, items: ItemRow[], owner?: string | null): Promise<ItemRow[]> {
  const chunks = [...new Map(items.map((i) => [`${i.job_id}:${i.chunk}`, i])).values()].sort((a, b) => a.chunk - b.chunk);
  for (const c of chunks) await lockChunk(trx, c.job_id, c.chunk);
  return trx('bulk_job_items')
    .whereIn(
      'id',
      items.map((i) => i.id),
    )
    .where({ status: 'running' })
    .modify((q) => {
      if (owner) q.where({ lease_owner: owner });
    })
    .orderBy('id');
}

/**
 * Writes every item's outcome: one UPDATE for item rows, one INSERT for items taken straight from
 * an unstarted chunk (`fresh`), whose result is their first and only write. Returns the count per
 * status (for metrics).
 */
export async function recordResults(trx: Knex.Transaction, results: ItemResult[], items: ItemRow[]): Promise<Record<string, number>> {
  const byId = new Map(items.map((i) => [Number(i.id), i]));
  const fresh = results.filter((r) => byId.get(Number(r.id))?.fresh);
  const rows = results.filter((r) => !byId.get(Number(r.id))?.fresh);
  if (rows.length) {
    // The was_locked column travels only when some result sets it (the common chunk has none).
    const lockedKnown = rows.some((r) => r.wasLocked !== undefined);
    const u = unnest('u', {
      id: ['bigint', rows.map((r) => r.id)],
      status: ['text', rows.map((r) => r.status)],
      reason: ['text', rows.map((r) => r.reason)],
      message: ['text', rows.map((r) => r.message)],
      ...(lockedKnown ? { was_locked: ['boolean', rows.map((r) => r.wasLocked ?? null)] as const } : {}),
    });
    await trx.raw(
      `update bulk_job_items i set status = u.status, reason = u.reason, message = u.message,
         ${lockedKnown ? 'was_locked = coalesce(u.was_locked, i.was_locked),' : ''}
         started_at = coalesce(i.started_at, now()), finished_at = now()
       from ${u.sql} where i.id = u.id and ${byKey('i.id', 'bigint')}`,
      [...u.bindings, rows.map((r) => r.id)],
    );
  }
  if (fresh.length) {
    const items = fresh.map((r) => byId.get(Number(r.id))!);
    await insertItems(trx, items, {
      status: fresh.map((r) => r.status),
      reason: fresh.map((r) => r.reason),
      message: fresh.map((r) => r.message),
      wasLockedEach: fresh.some((r) => r.wasLocked !== undefined) ? fresh.map((r) => r.wasLocked ?? null) : undefined,
      finished: true,
    });
  }
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

const sqlBool = (v: boolean | null | undefined) => (v === true ? 'true' : v === false ? 'false' : 'null');

/**
 * Inserts fresh items as rows, each with its status (and result, or lease and extra fields for
 * items left `running`), and clears their `fresh` flag.
 */
export async function insertItems(
  trx: Knex.Transaction,
  items: ItemRow[],
  as: {
    status: string[];
    reason?: (string | null)[];
    message?: (string | null)[];
    finished?: boolean;
    leaseMs?: number;
    /** The taking attempt's token, written with the lease. */
    leaseOwner?: string;
    /** Columns every item gets, as the kind's handler asked (`deferredFields`); unset: null. */
    columns?: { was_locked?: boolean | null; relocked?: boolean | null };
    /** Per item, for results that know it (a locked domain skipped); wins over columns.was_locked. */
    wasLockedEach?: (boolean | null)[];
  },
): Promise<void> {
  if (items.length === 0) return;
  const u = unnest('u', {
    id: ['bigint', items.map((i) => i.id)],
    job_id: ['uuid', items.map((i) => i.job_id)],
    chunk: ['int', items.map((i) => i.chunk)],
    name: ['text', items.map((i) => i.domain_name)],
    product: ['text', items.map((i) => i.product ?? 'domain')],
    product_id: ['bigint', items.map((i) => i.product_id ?? null)],
    status: ['text', as.status],
    reason: ['text', as.reason ?? items.map(() => null)],
    message: ['text', as.message ?? items.map(() => null)],
    ...(as.wasLockedEach ? { was_locked: ['boolean', as.wasLockedEach] as const } : {}),
  });
  const started = as.status.length && as.status.every((s) => s === 'pending') ? 'null' : 'now()';
  await trx.raw(
    `insert into bulk_job_items (id, job_id, chunk, domain_name, product, product_id, status, reason, message,
                                 started_at, finished_at, lease_until, lease_owner, was_locked, relocked)
     select u.id, u.job_id, u.chunk, u.name, u.product, u.product_id, u.status, u.reason, u.message,
            ${started}, ${as.finished ? 'now()' : 'null'},
            ${as.leaseMs ? leaseSql(as.leaseMs) : 'null'}, ${as.leaseOwner ? '?::uuid' : 'null'},
            ${as.wasLockedEach ? 'u.was_locked' : sqlBool(as.columns?.was_locked)}, ${sqlBool(as.columns?.relocked)}
     from ${u.sql} order by u.id`,
    as.leaseOwner ? [as.leaseOwner, ...u.bindings] : u.bindings,
  );
  for (const i of items) i.fresh = false;
}
