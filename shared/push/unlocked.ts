import type { Knex } from 'knex';
import type { Config } from '../platform/config';
import { leaseSql, OPEN_ITEM, type ItemRow } from '../bulk/model';

/**
 * The ledger of the push's registry lock changes (migration 20261206100200): `registry_lock_events`
 * gets an unlock `intent` row before every unlock call of the registry path and a `done` row after it
 * returned; a lock gets a `done` row after it returned, whose `since` is a ledger position (sequence
 * value) taken right before the call. `registry_unlocked` holds one row per domain whose latest
 * unlock (intent or done) has no lock after it, where "after" means the lock's `since` is later than
 * that unlock event, so the lock call surely followed it. A zombie that unlocks late, after a successor locked the domain
 * again, writes its `done` row after the successor's `since`: the domain shows as unlocked and
 * the sweep locks it again, whatever its item says. Every statement here is one per chunk step.
 */

type LedgerItem = Pick<ItemRow, 'id' | 'domain_name'> & { job_id?: string | null };

const ownerIs = (owner: string | null) => (owner ? 'i.lease_owner = ?::uuid' : 'i.lease_owner is null');
/** Per-item job ids for a `?::uuid[]` binding (null where unknown; knex's types only take non-null arrays). */
const jobIds = (items: LedgerItem[]) => items.map((i) => i.job_id ?? null) as unknown as string[];
const ownerArgs = (owner: string | null) => (owner ? [owner] : []);

/** Records `unlock` events (and opens `registry_unlocked` rows) for items, from a CTE `src(id, job_id, domain_name)`. */
function unlockEvents(phase: 'intent' | 'done') {
  return `ev as (
      insert into registry_lock_events (domain_name, item_id, job_id, owner, action, phase)
      select src.domain_name, src.id, src.job_id, ?::uuid, 'unlock', '${phase}' from src
      returning id, domain_name, item_id, job_id, owner),
    st as (
      insert into registry_unlocked (domain_name, unlock_id, item_id, job_id, owner)
      select distinct on (domain_name) domain_name, id, item_id, job_id, owner from ev order by domain_name, id desc
      on conflict (domain_name) do update set
        unlock_id = greatest(registry_unlocked.unlock_id, excluded.unlock_id),
        item_id = case when excluded.unlock_id > registry_unlocked.unlock_id then excluded.item_id else registry_unlocked.item_id end,
        job_id = case when excluded.unlock_id > registry_unlocked.unlock_id then excluded.job_id else registry_unlocked.job_id end,
        owner = case when excluded.unlock_id > registry_unlocked.unlock_id then excluded.owner else registry_unlocked.owner end)`;
}

/**
 * Right before the registry unlock: the items this attempt still holds (its `lease_owner`, still
 * `running`, lease not run out by the clock) get `relocked = false` and a fresh lease, and their
 * unlock intent goes to the ledger, in one statement. Only the ids returned may be unlocked: a
 * zombie whose items were taken over, or whose lease ran out while it was paused, gets none.
 */
export async function claimForUnlock(db: Knex, items: LedgerItem[], owner: string | null, leaseMs: number): Promise<Set<number>> {
  if (items.length === 0) return new Set();
  const { rows } = await db.raw(
    `with src as (
       update bulk_job_items i set relocked = false, lease_until = ${leaseSql(leaseMs)}
       where i.id = any(?::bigint[]) and ${ownerIs(owner)} and i.status = 'running' and i.lease_until > clock_timestamp()
       returning i.id, i.job_id, i.domain_name),
     ${unlockEvents('intent')}
     select id from src`,
    [items.map((i) => Number(i.id)), ...ownerArgs(owner), owner],
  );
  return new Set((rows as { id: string }[]).map((r) => Number(r.id)));
}

/**
 * Right after the registry unlock returned: the unlocks done, whoever owns the items by now (a
 * late unlock must stay visible until a later lock).
 */
export async function recordUnlocked(db: Knex, items: LedgerItem[], owner: string | null): Promise<void> {
  if (items.length === 0) return;
  await db.raw(
    `with src as (select * from unnest(?::bigint[], ?::uuid[], ?::text[]) as s(id, job_id, domain_name)),
     ${unlockEvents('done')}
     select count(*) from ev`,
    [items.map((i) => Number(i.id)), jobIds(items), items.map((i) => i.domain_name), owner],
  );
}

/**
 * Right before the registry lock: a position in the ledger (one sequence value, no row) that the
 * lock's `done` rows carry as `since`: every unlock event before it surely came before the lock call.
 */
export async function lockIntent(db: Knex, items: LedgerItem[], _owner: string | null): Promise<Map<string, number>> {
  if (items.length === 0) return new Map();
  const { rows } = await db.raw(`select nextval(pg_get_serial_sequence('registry_lock_events', 'id')) as id`);
  const since = Number(rows[0].id);
  return new Map(items.map((i) => [i.domain_name, since]));
}

/**
 * After the registry locked the domains: the items' `relocked = true` and end of lease, only where
 * this attempt still holds them (`owner`; null for the sweep: where no attempt holds a live lease),
 * so a zombie that locks again what it unlocked never overwrites its successor's item; the lock's
 * `done` rows; and the domains leave `registry_unlocked` unless an unlock came after the lock's intent.
 */
export async function recordLocked(db: Knex, items: LedgerItem[], since: Map<string, number>, owner: string | null): Promise<void> {
  if (items.length === 0) return;
  const held = owner ? ownerIs(owner) : '(i.lease_until is null or i.lease_until < clock_timestamp())';
  await db.raw(
    `with l as (select * from unnest(?::bigint[], ?::uuid[], ?::text[], ?::bigint[]) as s(id, job_id, domain_name, since)),
     it as (
       -- By id alone, not joined to l: the planner, guessing few items, read l again for each one.
       update bulk_job_items i set relocked = true, lease_until = null
       where i.id = any(?::bigint[]) and ${held}
       returning i.id),
     ev as (
       insert into registry_lock_events (domain_name, item_id, job_id, owner, action, phase, since)
       select l.domain_name, l.id, l.job_id, ?::uuid, 'lock', 'done', l.since from l),
     st as (
       delete from registry_unlocked r using l where r.domain_name = l.domain_name and r.unlock_id < l.since)
     select count(*) from it`,
    [
      items.map((i) => Number(i.id)),
      jobIds(items),
      items.map((i) => i.domain_name),
      items.map((i) => since.get(i.domain_name) ?? 0),
      items.map((i) => Number(i.id)),
      ...ownerArgs(owner),
      owner,
    ],
  );
}

/**
 * What a sweep locks again in one scope (a chunk, a job, or everything), in one statement: items
 * whose domain their attempt unlocked, that ended without locking it again and that no live attempt
 * holds, and whatever the ledger shows unlocked whose item no live attempt holds, whatever that item
 * says (a zombie's late unlock). An item's own row comes first; the caller keeps one per domain.
 */
export async function owedRelocks(
  db: Knex,
  scope: { job_id?: string; chunk?: number },
): Promise<(LedgerItem & { job_id: string | null })[]> {
  const byJob = scope.job_id ? ' and job_id = ?' : '';
  const byChunk = scope.chunk !== undefined ? ' and chunk = ?' : '';
  const scoped = [...(scope.job_id ? [scope.job_id] : []), ...(scope.chunk !== undefined ? [scope.chunk] : [])];
  const { rows } = await db.raw(
    `select id, domain_name, job_id, 0 as source from bulk_job_items
     where was_locked = true and relocked = false and status not in (${OPEN_ITEM.map((st) => `'${st}'`).join(', ')})
       and (lease_until is null or lease_until < clock_timestamp())${byJob}${byChunk}
     union all
     select r.item_id, r.domain_name, r.job_id, 1 from registry_unlocked r left join bulk_job_items i on i.id = r.item_id
     where (i.lease_until is null or i.lease_until < clock_timestamp())${byJob.replace('job_id', 'r.job_id')}${byChunk.replace('chunk', 'i.chunk')}
     order by source, domain_name`,
    [...scoped, ...scoped],
  );
  return (rows as { id: string | null; domain_name: string; job_id: string | null }[]).map((r) => ({
    id: Number(r.id),
    domain_name: r.domain_name,
    job_id: r.job_id,
  }));
}

/**
 * The invariant: domains taken on the registry path that the ledger shows unlocked for longer than
 * `boundMs` (since their first unlock with no lock after it). 0 whenever the guarantee holds.
 */
export async function unlockedPastBound(db: Knex, boundMs: number): Promise<number> {
  const { rows } = await db.raw(
    `select count(*)::int as n from registry_unlocked where unlocked_at < clock_timestamp() - (? * interval '1 millisecond')`,
    [Math.max(0, Math.floor(boundMs))],
  );
  return Number(rows[0].n);
}

/**
 * How long a domain may stay unlocked on the registry path: a dead or paused attempt's lease runs
 * out (`WORKER_LOCK_MS`), its chunk is taken over as stalled (`WORKER_LOCK_MS / 2`) or the
 * reconciler's sweep comes round (`RECONCILE_INTERVAL_MS`), plus the relock itself (the rest).
 */
export function unlockBoundMs(config: Pick<Config, 'WORKER_LOCK_MS' | 'RECONCILE_INTERVAL_MS'>): number {
  return 2 * config.WORKER_LOCK_MS + config.RECONCILE_INTERVAL_MS;
}
