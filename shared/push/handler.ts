import type { Knex } from 'knex';
import { nextCycleStart } from './billing';
import { billingMoment } from './start';
import type { Deps } from '../platform/deps';
import { lockLiveItems, recordResults, type ItemResult } from '../bulk/results';
import type { ItemHandler, KindJob } from '../bulk/take';
import { leaseFree, OPEN_ITEM, type BulkJob, type ItemRow } from '../bulk/model';
import type { PushOptions } from './options';
import { registryEach, type RegistryCallPolicy, type RegistryGateway } from '../catalog/registry';
import { byKey, isUniqueViolation, unnest } from '../platform/sql';
import { isTransientFault, TransientFault } from '../platform/faults';
import { pausePoint } from '../platform/pause-points';
import { storableText } from '../platform/validation';
import { claimForUnlock, lockIntent, openUnlocks, recordLocked, recordUnlocked } from './unlocked';

/**
 * Registry calls: one batch per chunk where the registry has a bulk call, else 16 per-domain calls
 * in flight (a slow registry should not serialize 1,000 round trips). An unlock is tried 4 times,
 * pauses drawn from [0, 50], [0, 100], [0, 200] ms (full jitter, platform/retry.ts), before its
 * item fails; a relock tries harder (5 times, ceilings 100 … 800 ms), since a domain left unlocked
 * is the worse outcome.
 */
export const UNLOCK_POLICY: RegistryCallPolicy = { parallelism: 16, attempts: 4, backoffMs: 50, capMs: 200, jitter: 'full' };
export const RELOCK_POLICY: RegistryCallPolicy = { parallelism: 16, attempts: 5, backoffMs: 100, capMs: 800, jitter: 'full' };

interface DomainRow {
  id: number;
  name: string;
  reseller_id: number;
  locked: boolean;
  profile_id: number | null;
  brand_id: number | null;
  /** The item that last took the domain on the registry path, and whether that hold still stands. */
  held_by_item: number | null;
  hold_live: boolean;
}

/**
 * A domain another item holds on the registry path (it may be unlocked at the registry right now)
 * is locked for everyone else until that item has ended and locked it again.
 */
export function heldElsewhere(d: Pick<DomainRow, 'held_by_item' | 'hold_live'> | undefined, itemId: number | null): boolean {
  return !!d?.hold_live && Number(d.held_by_item) !== Number(itemId);
}

/** The domain as the push rules must see it from one item: held by another item = locked. */
function asSeenBy<T extends Pick<DomainRow, 'locked' | 'held_by_item' | 'hold_live'>>(d: T | undefined, itemId: number | null) {
  return d && { ...d, locked: d.locked || heldElsewhere(d, itemId) };
}

export type Decision =
  | { status: 'pushed'; reason: null; message: null }
  | { status: 'failed' | 'skipped'; reason: 'not_found' | 'not_owned' | 'locked'; message: string };

/** The push rule for one domain, as the platform knows it; `lockedMayMove` = apply_to_locked. */
export function decideItem(
  d: { reseller_id: number | null; locked: boolean } | undefined,
  losing: number,
  lockedMayMove: boolean,
): Decision {
  if (!d) return { status: 'failed', reason: 'not_found', message: 'The domain is not on the platform.' };
  if (Number(d.reseller_id) !== losing)
    return { status: 'failed', reason: 'not_owned', message: 'The domain is not held by the pushing reseller.' };
  if (d.locked && !lockedMayMove)
    return { status: 'skipped', reason: 'locked', message: 'The domain is locked; apply_to_locked was not set.' };
  return { status: 'pushed', reason: null, message: null };
}

/**
 * The domains behind some names with their holds; with `forUpdate`, row-locked in id order (two
 * jobs never deadlock on them), which also serializes the hold: it is read and written under it.
 */
export async function domainsWithHolds(db: Knex, names: string[], forUpdate: boolean): Promise<DomainRow[]> {
  // Each name is one probe of the name index, then each row one probe by id: `name = any(…)` left
  // the planner free to scan every domain instead (its guess for 1,000 names in 100,000 rows).
  const q = db('domains')
    .whereRaw(
      `id = any(array(select d.id from unnest(?::text[]) as n(name)
                      cross join lateral (select id from domains where name = n.name limit 1) d))`,
      [names],
    )
    .orderBy('id')
    .select('id', 'name', 'reseller_id', 'locked', 'profile_id', 'brand_id', 'held_by_item');
  const rows: DomainRow[] = await (forUpdate ? q.forUpdate() : q);
  // A second statement, hence (read committed) a snapshot taken after the row locks were granted:
  // a join in the locking statement would check the holder against the snapshot from before a
  // wait on the row, and miss a hold committed meanwhile.
  const holders = [...new Set(rows.filter((d) => d.held_by_item !== null).map((d) => Number(d.held_by_item)))];
  const live = new Set<number>(
    holders.length
      ? (
          await db('bulk_job_items')
            .whereRaw('id = any(?::bigint[])', [holders])
            .where((b) =>
              b
                .whereIn('status', OPEN_ITEM)
                .orWhereRaw('was_locked and relocked is not true')
                // The ledger shows the domain unlocked (a late unlock after the item ended): held until locked again.
                .orWhereRaw('id in (select item_id from registry_unlocked where item_id = any(?::bigint[]))', [holders]),
            )
            .pluck('id')
        ).map(Number)
      : [],
  );
  return rows.map((d) => ({ ...d, hold_live: d.held_by_item !== null && live.has(Number(d.held_by_item)) }));
}

function lockDomains(trx: Knex.Transaction, items: ItemRow[]): Promise<DomainRow[]> {
  return domainsWithHolds(
    trx,
    items.map((i) => i.domain_name),
    true,
  );
}

/** How long an item waits before looking again at a domain another job holds. */
const HELD_RETRY_MS = 1000;

/**
 * The push rules for one chunk. In the take transaction every item is decided and applied with a
 * handful of set-based statements, together with its result, except locked domains to be pushed
 * with apply_to_locked: those go unlock → push → relock outside it (the registry is external), and
 * `was_locked` is written before the unlock so that whatever happens next, a later attempt or the
 * reconciler knows to lock the domain again.
 */
export const pushHandler: ItemHandler<PushOptions> = {
  async inTake(deps, trx, job, items) {
    const byName = new Map((await lockDomains(trx, items)).map((d) => [d.name, d]));
    const applyToLocked = job.options.apply_to_locked;
    const losing = Number(job.losing_reseller_id);
    const deferred: ItemRow[] = [];
    const now: ItemRow[] = [];
    let waiting = 0;
    for (const i of items) {
      const d = byName.get(i.domain_name);
      const owned = !!d && Number(d.reseller_id) === losing;
      if (applyToLocked && owned && heldElsewhere(d, i.id)) {
        // Another job has it on the registry path: this item waits (stays pending) until it is done.
        waiting++;
        continue;
      }
      const viaRegistry = !!i.was_locked || (applyToLocked && owned && !!d?.locked);
      (viaRegistry ? deferred : now).push(i);
    }
    // The hold is taken in the transaction that decides the unlock, under the domains' row locks.
    const holds = deferred.filter((i) => byName.has(i.domain_name));
    if (holds.length) {
      await trx.raw(
        `update domains d set held_by_item = u.item from unnest(?::text[], ?::bigint[]) as u(name, item)
         where d.name = u.name and ${byKey('d.name', 'text')}`,
        [holds.map((i) => i.domain_name), holds.map((i) => Number(i.id)), holds.map((i) => i.domain_name)],
      );
    }
    return {
      deferred,
      counts: await applyPush(deps, trx, job, now, byName, new Map()),
      retryAt: waiting ? new Date(Date.now() + HELD_RETRY_MS) : null,
      // Written with the take, before any unlock: whatever happens next, a later attempt or the
      // reconciler knows to lock these domains again.
      deferredFields: { was_locked: true, relocked: false },
    };
  },

  async deferred(deps, job, taken) {
    const owner = taken.find((i) => i.lease_owner)?.lease_owner ?? null;
    // Right before the unlock, one conditional write decides which items this attempt still holds
    // (and writes `relocked = false` and the ledger's unlock intent for them): an attempt that was
    // paused past its lease, or whose items were taken over, unlocks nothing and writes nothing.
    const mine = await claimForUnlock(deps.db, taken, owner, deps.config.WORKER_LOCK_MS);
    if (mine.size < taken.length) {
      deps.log.warn(
        { job_id: job.id, refused: taken.length - mine.size, owner },
        'attempt no longer holds its items: their unlock and push are left to the attempt that took them over',
      );
    }
    const items = taken.filter((i) => mine.has(Number(i.id)));
    if (items.length === 0) {
      // Items nobody took over yet (this attempt's lease ran out while it was paused): the chunk is
      // taken again at once (by a new attempt, with a new token) instead of at the next reconcile.
      const orphaned = await deps
        .db('bulk_job_items')
        .whereIn(
          'id',
          taken.map((i) => i.id),
        )
        .where({ status: 'running' })
        .modify((q) => leaseFree(q, deps.db))
        .first('id');
      if (orphaned) throw new TransientFault('this attempt lost its lease before the unlock; the chunk is taken again');
      return {};
    }
    const unlockFailed = new Map<number, string>();
    // Items whose unlock met a transient fault (our database or network, not the registry's
    // answer) are not decided now: they stay running and this attempt ends as retry-later.
    const unsure = new Set<number>();
    let fault: unknown;
    const unlocks = await registryEach(
      fencedUnlocks(deps, items, owner, mine),
      'unlock',
      items.map((i) => i.domain_name),
      UNLOCK_POLICY,
    );
    pausePoint('after_unlock');
    // Whoever holds the items by now: an unlock that happened stays visible until a later lock.
    await recordUnlocked(
      deps.db,
      items.filter((_, i) => unlocks[i].status === 'fulfilled'),
      owner,
    );
    // Items whose unlock was never made because this attempt no longer held them when it came to it.
    const lost = new Set<number>();
    unlocks.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      if (r.reason instanceof LeaseLost) {
        lost.add(Number(items[i].id));
        fault ??= r.reason;
      } else if (isTransientFault(r.reason)) {
        unsure.add(Number(items[i].id));
        fault ??= r.reason;
      } else unlockFailed.set(Number(items[i].id), storableText(`registry unlock failed: ${(r.reason as Error).message}`));
    });
    const decided = items.filter((i) => !unsure.has(Number(i.id)) && !lost.has(Number(i.id)));
    const counts = decided.length
      ? await deps.db.transaction(async (trx) => {
          // Only what this attempt still holds under the chunk lock (a takeover takes that lock too).
          const live = await lockLiveItems(trx, decided, owner);
          if (live.length === 0) return {};
          const byName = new Map((await lockDomains(trx, live)).map((d) => [d.name, d]));
          return applyPush(deps, trx, job, live, byName, unlockFailed);
        })
      : {};
    // Every domain is locked again, the undecided ones too (their unlock may have happened).
    await relock(
      deps,
      items.filter((i) => !lost.has(Number(i.id))),
      owner,
    );
    if (fault) throw new TransientFault(`registry unlock interrupted: ${(fault as Error).message}`, { cause: fault });
    return counts;
  },
};

/** An unlock not made: the attempt no longer held the item when the call came due. */
class LeaseLost extends Error {
  override name = 'LeaseLost';
}

/**
 * The registry as one attempt's unlocks see it. The claim right before the unlocks is checked again
 * (one statement, the same claim) before any call that comes due long after it (a third of the
 * lease: a pause, or per-domain calls queued behind a slow registry), and calls for items no longer
 * held are not made. What is left between the last check and the registry doing the unlock is the
 * call itself (see docs/faults.md: the ledger shows an unlock that lands late).
 */
function fencedUnlocks(deps: Deps, items: ItemRow[], owner: string | null, mine: Set<number>): RegistryGateway {
  const { registry } = deps;
  const leaseMs = deps.config.WORKER_LOCK_MS;
  const idOf = new Map(items.map((i) => [i.domain_name, Number(i.id)]));
  let held = mine;
  let checkedAt = performance.now();
  let checking: Promise<void> | null = null;
  const recheck = async () => {
    if (performance.now() - checkedAt < leaseMs / 3) return;
    checking ??= claimForUnlock(
      deps.db,
      items.filter((i) => held.has(Number(i.id))),
      owner,
      leaseMs,
    )
      .then((again) => {
        held = again;
        checkedAt = performance.now();
      })
      .finally(() => {
        checking = null;
      });
    await checking;
  };
  const ok = (name: string) => held.has(idOf.get(name) ?? -1);
  const gateway: RegistryGateway = {
    async unlock(name) {
      await recheck();
      if (!ok(name)) throw new LeaseLost(`${name}: this attempt no longer holds the item`);
      return registry.unlock(name);
    },
    lock: (name) => registry.lock(name),
  };
  if (registry.unlockMany) {
    gateway.unlockMany = async (names) => {
      await recheck();
      const allowed = names.filter(ok);
      const refused = allowed.length ? await registry.unlockMany!(allowed) : new Map<string, Error>();
      for (const name of names) if (!ok(name)) refused.set(name, new LeaseLost(`${name}: this attempt no longer holds the item`));
      return refused;
    };
  }
  return gateway;
}

async function applyPush(
  deps: Deps,
  trx: Knex.Transaction,
  job: KindJob<PushOptions>,
  live: ItemRow[],
  byName: Map<string, DomainRow>,
  unlockFailed: Map<number, string>,
): Promise<Record<string, number>> {
  if (live.length === 0) return {};
  const losing = Number(job.losing_reseller_id);
  const gaining = Number(job.gaining_reseller_id);
  const results: ItemResult[] = [];
  const eligible: DomainRow[] = [];
  for (const item of live) {
    const d = byName.get(item.domain_name);
    const id = Number(item.id);
    // A registry-path item was unlocked for this push; any other locked domain (or one another
    // item holds on the registry path) is skipped.
    const decision = decideItem(asSeenBy(d, id), losing, !!item.was_locked);
    const failedUnlock = unlockFailed.get(id);
    if (decision.status === 'pushed' && failedUnlock) results.push({ id, status: 'failed', reason: 'error', message: failedUnlock });
    // A locked domain left where it is was still locked: its result says so.
    else results.push({ id, ...decision, ...(decision.reason === 'locked' ? { wasLocked: true } : {}) });
    if (decision.status === 'pushed' && !failedUnlock) eligible.push(d!);
  }

  if (eligible.length) {
    const profileFor = await profilesForPush(trx, job, eligible, gaining);
    const brandFor = await brandCopies(trx, job, eligible, gaining);
    const u = unnest('u', {
      id: ['bigint', eligible.map((d) => d.id)],
      profile_id: ['bigint', eligible.map((d) => profileFor.get(d.name) ?? null)],
      brand_id: ['bigint', eligible.map((d) => (d.brand_id ? (brandFor.get(Number(d.brand_id)) ?? null) : null))],
    });
    await trx.raw(
      // The customer and packages are the losing reseller's: the domain leaves them.
      `update domains d set reseller_id = ?, profile_id = u.profile_id, brand_id = u.brand_id, customer_id = null, updated_at = now()
       from ${u.sql} where d.id = u.id and ${byKey('d.id', 'bigint')}`,
      [gaining, ...u.bindings, eligible.map((d) => d.id)],
    );
    await trx('package_domains')
      .whereRaw('domain_id = any(?::bigint[])', [eligible.map((d) => d.id)])
      .del();
    await billPush(
      deps,
      trx,
      job,
      eligible.map((d) => Number(d.id)),
      gaining,
      losing,
    );
  }

  return recordResults(trx, results, live);
}

/**
 * `existing`: every domain joins the named profile. `new`: each domain gets its own profile in the
 * gaining account, carrying its registrant contact and credentials. Usernames are unique per
 * reseller, so a taken username gets the domain name appended (then the job number).
 */
async function profilesForPush(trx: Knex.Transaction, job: KindJob<PushOptions>, domains: DomainRow[], gaining: number) {
  const out = new Map<string, number | null>();
  // Parsed by the engine once per chunk (bulk/take.ts): typed here, never parsed again.
  const { profile } = job.options;
  if (profile.mode === 'existing') {
    for (const d of domains) out.set(d.name, Number(profile.profile_id));
    return out;
  }
  // The first variant already steps aside from usernames the gaining reseller holds, so one
  // statement settles nearly every chunk; the others only catch races and rare collisions. The
  // source profile and the taken username are each one index probe per domain (lateral, so the
  // planner cannot hash a scan of every profile instead: the gaining side's profiles grow with
  // every chunk, and a big reseller has millions).
  const variants = [
    {
      taken: `left join lateral (select true as taken from profiles t
                                 where t.reseller_id = ${gaining} and t.username = s.username limit 1) t on true`,
      username: `case when s.n = 1 and s.username is not null and t.taken is null
                      then s.username else coalesce(s.username, 'registrant') || '-' || s.name end`,
    },
    { taken: '', username: `coalesce(s.username, 'registrant') || '-' || s.name` },
    { taken: '', username: `coalesce(s.username, 'registrant') || '-' || s.name || '-' || ${Number(job.seq)}` },
  ];
  const insert = (q: Knex.Transaction, variant: (typeof variants)[number], ids: number[], onConflict: boolean) =>
    q.raw(
      `with src as (
         select d.name, p.username, p.password_hash, p.contact, count(*) over (partition by p.username) as n
         from domains d
         left join lateral (select username, password_hash, contact from profiles where id = d.profile_id limit 1) p on true
         where d.id = any(?::bigint[]))
       insert into profiles (reseller_id, domain, username, password_hash, contact, source_domain, created_by_job_seq)
       select ?, s.name, ${variant.username}, s.password_hash, coalesce(s.contact, '{}'::jsonb), s.name, ?
       from src s ${variant.taken}
       ${onConflict ? 'on conflict (reseller_id, username) do nothing' : ''}
       returning id, source_domain`,
      [ids, gaining, job.seq],
    );
  let remaining = domains.map((d) => Number(d.id));
  const took = (rows: { id: number; source_domain: string }[]) => {
    for (const r of rows) out.set(r.source_domain, Number(r.id));
    remaining = domains.filter((d) => !out.has(d.name)).map((d) => Number(d.id));
  };
  // First as a plain insert, in a savepoint: ON CONFLICT's speculative insertion costs every row,
  // and only a race with another chunk (or a rare collision) ever needs it; those go round again.
  try {
    took((await trx.transaction((sp) => insert(sp, variants[0], remaining, false))).rows);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  for (const variant of variants) {
    if (remaining.length === 0) break;
    took((await insert(trx, variant, remaining, true)).rows);
  }
  if (remaining.length) throw new Error(`could not create profiles for ${remaining.length} domain(s)`);
  return out;
}

/** One unlabelled, read-only copy per source brand per job, shared by all the job's domains. */
async function brandCopies(trx: Knex.Transaction, job: BulkJob, domains: DomainRow[], gaining: number) {
  const sources = [...new Set(domains.filter((d) => d.brand_id).map((d) => Number(d.brand_id)))];
  const map = new Map<number, number>();
  if (sources.length === 0) return map;
  await trx.raw(
    `insert into brands (reseller_id, name, settings, editable, source_brand_id, created_by_job_id)
     select ?, null, b.settings, false, b.id, ? from brands b where b.id = any(?::bigint[])
     on conflict (created_by_job_id, source_brand_id) do nothing`,
    [gaining, job.id, sources],
  );
  const rows = await trx('brands').where({ created_by_job_id: job.id }).whereIn('source_brand_id', sources).select('id', 'source_brand_id');
  for (const r of rows) map.set(Number(r.source_brand_id), Number(r.id));
  return map;
}

/**
 * Gaining billed from its next full cycle; the losing side's billing ends at that same moment.
 * A plain insert: an item is decided once, in the transaction that bills it, so a second event for
 * the same job, domain and kind is a bug the unique constraint turns into an error (the take rolls
 * back), not a row to skip quietly. (ON CONFLICT's speculative insertion cost 35% more per row.)
 */
async function billPush(deps: Deps, trx: Knex.Transaction, job: BulkJob, domainIds: number[], gaining: number, losing: number) {
  const g = await trx('resellers').where({ id: gaining }).first('billing_anchor_day');
  const anchor = g?.billing_anchor_day ?? 1;
  const effective = nextCycleStart(billingMoment(job, deps.clock(), anchor), anchor).toISOString();
  const n = domainIds.length;
  await trx.raw(
    `insert into billing_events (reseller_id, domain_id, job_id, kind, effective_from)
     select r, d, ?::uuid, k, ?::timestamptz from unnest(?::bigint[], ?::bigint[], ?::text[]) as t(r, d, k)`,
    [
      job.id,
      effective,
      [...Array(n).fill(gaining), ...Array(n).fill(losing)],
      [...domainIds, ...domainIds],
      [...Array(n).fill('push_in'), ...Array(n).fill('push_out')],
    ],
  );
}

/**
 * Locks again every domain this attempt unlocked (`owner`; null for the sweep). A failure is left for
 * the next attempt or the reconciler. The registry lock is called whatever happened meanwhile (the
 * domain must end locked), but the items are written only where this attempt still holds them
 * (the sweep: where no attempt holds a live lease), never over a successor's state.
 */
export async function relock(
  deps: Deps,
  items: (Pick<ItemRow, 'id' | 'domain_name'> & { job_id?: string | null })[],
  owner: string | null,
): Promise<void> {
  const done: typeof items = [];
  const errors: string[] = [];
  let allTransient = true;
  pausePoint('before_relock');
  const since = await lockIntent(deps.db, items, owner);
  const locks = await registryEach(
    deps.registry,
    'lock',
    items.map((i) => i.domain_name),
    RELOCK_POLICY,
  );
  locks.forEach((r, i) => {
    if (r.status === 'fulfilled') done.push(items[i]);
    else {
      errors.push(storableText(`${items[i].domain_name}: ${(r.reason as Error).message}`));
      allTransient &&= isTransientFault(r.reason);
    }
  });
  // The relock is an item's last step: its lease ends in the same write.
  await recordLocked(deps.db, done, since, owner);
  if (errors.length) {
    const message = `relock failed for ${errors.length} domain(s): ${errors.slice(0, 5).join('; ')}`;
    throw allTransient ? new TransientFault(message) : new Error(message);
  }
}

/**
 * Items whose domain was unlocked by this job, finished, and not yet locked again, and no longer in
 * a live attempt's hands (that attempt relocks them itself).
 */
export async function pendingRelocks(deps: Deps, where: { job_id?: string; chunk?: number }) {
  const byItems: { id: number; domain_name: string; job_id: string | null }[] = await deps
    .db('bulk_job_items')
    .where(where)
    .where({ was_locked: true, relocked: false })
    .whereNotIn('status', OPEN_ITEM)
    .modify((q) => leaseFree(q, deps.db))
    .select('id', 'domain_name', 'job_id');
  // And whatever the ledger shows unlocked, whatever its item says (a zombie's late unlock).
  const byLedger = await openUnlocks(deps.db, where);
  const seen = new Set(byItems.map((i) => i.domain_name));
  return [...byItems, ...byLedger.filter((i) => !seen.has(i.domain_name))];
}
