import type { Knex } from 'knex';
import { nextCycleStart } from './billing';
import { billingMoment } from './start';
import type { Deps } from '../platform/deps';
import { lockLiveItems, recordResults, type ItemResult } from '../bulk/results';
import type { ItemHandler, KindJob } from '../bulk/take';
import { leaseFree, OPEN_ITEM, type ItemRow } from '../bulk/model';
import type { PushOptions } from './options';
import { domainsByName, holdDomains, moveDomainsSql, type DomainToMove, type SqlPart } from '../catalog/domain-moves';
import { createProfilesForDomains, newProfilesSql } from '../catalog/profiles';
import { isUniqueViolation } from '../platform/sql';
import { copyBrandsForJob } from '../catalog/brands';
import { registryEach, type RegistryCallPolicy, type RegistryGateway } from '../catalog/registry';
import { isTransientFault, TransientFault } from '../platform/faults';
import { pausePoint } from '../platform/pause-points';
import { storableText } from '../platform/validation';
import { recordPushedDomains } from '../events/events';
import { claimForUnlock, lockIntent, owedRelocks, recordLocked, recordUnlocked } from './unlocked';

/**
 * Registry calls: one batch per chunk where the registry has a bulk call, else 16 per-domain calls
 * in flight (a slow registry should not serialize 1,000 round trips). An unlock is tried 4 times,
 * pauses drawn from [0, 50], [0, 100], [0, 200] ms (full jitter, platform/retry.ts), before its
 * item fails; a relock tries harder (5 times, ceilings 100 … 800 ms), since a domain left unlocked
 * is the worse outcome.
 */
export const UNLOCK_POLICY: RegistryCallPolicy = { parallelism: 16, attempts: 4, backoffMs: 50, capMs: 200, jitter: 'full' };
export const RELOCK_POLICY: RegistryCallPolicy = { parallelism: 16, attempts: 5, backoffMs: 100, capMs: 800, jitter: 'full' };

/** A domain as the push sees it: the catalog's row, and whether the item holding it still holds it. */
interface DomainRow extends DomainToMove {
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

type Decision =
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
  const rows = await domainsByName(db, names, forUpdate);
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
    await holdDomains(
      trx,
      deferred.filter((i) => byName.has(i.domain_name)).map((i) => ({ name: i.domain_name, item: Number(i.id) })),
    );
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

  if (eligible.length) await movePushed(deps, trx, job, eligible);
  // Webhooks: domain.pushed_out / domain.pushed_in for the chunk's moved domains, both sides, one statement.
  await recordPushedDomains(
    trx,
    job,
    eligible.map((d) => d.name),
  );
  return recordResults(trx, results, live);
}

/**
 * Moves a chunk's pushed domains in ONE statement: each owner writes its tables through a part of
 * it (catalog: the new profiles and the domains; customers: the package links the domains leave;
 * the push: billing), composed here as CTEs over the moved rows. Brand copies (rare) are a statement
 * of their own before it: a copy another chunk of the job is making at the same moment is seen only
 * by a later statement. With `profile: { mode: 'new' }` the statement runs in a savepoint; a taken
 * username (a race with another chunk, a rare collision) rolls it back and the profiles are made
 * one naming variant at a time, then the same statement moves the domains.
 */
async function movePushed(deps: Deps, trx: Knex.Transaction, job: KindJob<PushOptions>, domains: DomainRow[]) {
  const gaining = Number(job.gaining_reseller_id);
  const sources = [...new Set(domains.filter((d) => d.brand_id).map((d) => Number(d.brand_id)))];
  const brandFor = await copyBrandsForJob(trx, gaining, job.id, sources);
  const effective = await billingStart(deps, trx, job, gaining);
  const { profile } = job.options;
  const moves = (profileOf: (d: DomainRow) => number | null) =>
    domains.map((d) => ({
      id: Number(d.id),
      name: d.name,
      profileId: profileOf(d),
      brandId: d.brand_id ? (brandFor.get(Number(d.brand_id)) ?? null) : null,
    }));
  const run = (q: Knex.Transaction, profiles: SqlPart | null, move: SqlPart) => {
    const bill = billingSql(job, effective, gaining, Number(job.losing_reseller_id));
    const parts = [
      ...(profiles ? [`np as (${profiles.sql})`] : []),
      `moved as (${move.sql})`,
      `dropped as (${deps.packages.dropForMovedSql('moved')})`,
      `billed as (${bill.sql})`,
    ];
    return q.raw(`with ${parts.join(',\n')} select count(*)::int as n from moved`, [
      ...(profiles?.bindings ?? []),
      ...move.bindings,
      ...bill.bindings,
    ]);
  };
  if (profile.mode === 'existing') {
    await run(
      trx,
      null,
      moveDomainsSql(
        gaining,
        moves(() => Number(profile.profile_id)),
        'given',
      ),
    );
    return;
  }
  const ids = domains.map((d) => Number(d.id));
  try {
    await trx.transaction((sp) =>
      run(
        sp,
        newProfilesSql(gaining, Number(job.seq), ids),
        moveDomainsSql(
          gaining,
          moves(() => null),
          { fromCte: 'np' },
        ),
      ),
    );
    return;
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  const profileFor = await createProfilesForDomains(
    trx,
    gaining,
    Number(job.seq),
    domains.map((d) => ({ id: Number(d.id), name: d.name })),
  );
  await run(
    trx,
    null,
    moveDomainsSql(
      gaining,
      moves((d) => profileFor.get(d.name) ?? null),
      'given',
    ),
  );
}

/** When the gaining reseller is billed from: its next full cycle after the push (billing.ts, start.ts). */
async function billingStart(deps: Deps, trx: Knex.Transaction, job: KindJob<PushOptions>, gaining: number): Promise<string> {
  const g = await trx('resellers').where({ id: gaining }).first('billing_anchor_day');
  const anchor = g?.billing_anchor_day ?? 1;
  return nextCycleStart(billingMoment(job, deps.clock(), anchor), anchor).toISOString();
}

/**
 * The body of a CTE billing the moved domains (`moved`, rows `(id)`): the gaining side from its next
 * full cycle; the losing side's billing ends at that same moment. A plain insert: an item is decided
 * once, in the transaction that bills it, so a second event for the same job, domain and kind is a
 * bug the unique constraint turns into an error (the take rolls back), not a row to skip quietly.
 * (ON CONFLICT's speculative insertion cost 35% more per row.)
 */
function billingSql(job: KindJob<PushOptions>, effective: string, gaining: number, losing: number): SqlPart {
  return {
    sql: `insert into billing_events (reseller_id, domain_id, job_id, kind, effective_from)
          select v.r, m.id, ?::uuid, v.k, ?::timestamptz
          from moved m cross join (values (?::bigint, 'push_in'), (?::bigint, 'push_out')) as v(r, k)`,
    bindings: [job.id, effective, gaining, losing],
  };
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
  // One per domain: an item's own row comes first, the ledger's only for a domain no item names.
  const seen = new Set<string>();
  return (await owedRelocks(deps.db, where)).filter((i) => {
    if (seen.has(i.domain_name)) return false;
    seen.add(i.domain_name);
    return true;
  });
}
