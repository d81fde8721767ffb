import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Deps } from '../platform/deps';
import { pausePoint } from '../platform/pause-points';
import { recordJobEvent } from '../events/events';
import { leaseFree, leaseSql, type BulkJob, type ItemRow } from './model';
import type { BulkKindDef, ItemHandler, KindJob } from './kind';
import { takeUnstarted } from './unstarted';
import { insertItems } from './results';
import { lockChunk, passJobGate } from './locks';

// A kind's handler types live with the kind's definition (kind.ts); kinds import them from here too.
export type { ItemHandler, KindJob } from './kind';

interface Taken {
  job: KindJob;
  handler: ItemHandler;
  /** Items finished inside the take transaction, by status (counted once it committed). */
  counts: Record<string, number>;
  done: number;
  /** Items left `running` under a lease for the handler's deferred step, each with this attempt's `lease_owner`. */
  deferred: ItemRow[];
  /** This attempt's token: the `lease_owner` of its deferred items. */
  owner: string;
  /**
   * When some of the chunk's items are in other hands (another live attempt's lease, or a domain
   * another job holds): when to look again.
   */
  heldElsewhereUntil: Date | null;
}

const leaseExpr = (db: Knex, ms: number) => db.raw(leaseSql(ms));

/**
 * Takes a chunk's items and lets the handler finish what it can in the same transaction. The
 * job row is held FOR SHARE, so a cancel or suspend (which updates that row) waits for takes in
 * flight and no item starts after it is acknowledged. A `running` item (a deferred one) is taken
 * over only when its lease ran out, i.e. its attempt died; a cancelling or suspended job only gets
 * such in-hand items back, never new ones.
 *
 * Each call is one attempt with its own token (`owner`), written as the items' `lease_owner` with
 * their lease, which runs from the moment it is written (the clock, not the transaction's start):
 * a take that waited on a lock still commits a live lease, and an attempt that paused past its
 * lease finds its items gone to whoever took them over. Nothing in this transaction waits on
 * anything but Postgres, so it never sits idle (a frozen holder is cut off by the server's
 * `idle_in_transaction_session_timeout`, below `WORKER_LOCK_MS`).
 */
export async function takeChunk(
  deps: Deps,
  kindFor: (kind: BulkJob['kind']) => Pick<BulkKindDef, 'handler' | 'options'>,
  jobId: string,
  chunk: number,
): Promise<Taken | null> {
  const { db } = deps;
  const leaseMs = deps.config.WORKER_LOCK_MS;
  const owner = randomUUID();
  // The job's first take starts it, and tells its parties (webhooks) in the same transaction.
  await db.transaction(async (t) => {
    const [started] = await t('bulk_jobs')
      .where({ id: jobId, status: 'queued' })
      .update({ status: 'running', started_at: t.raw('coalesce(started_at, now())') })
      .returning('*');
    if (started) await recordJobEvent(t, 'bulk_job.started', started);
  });
  return db.transaction(async (trx) => {
    await passJobGate(trx, jobId, 'shared');
    const row: BulkJob | undefined = await trx('bulk_jobs').where({ id: jobId }).forShare().first();
    if (!row) return null;
    const { handler, options } = kindFor(row.kind);
    // Parsed once per chunk attempt, here: the handler (inTake and deferred) gets them typed.
    const job: KindJob = { ...row, options: options.parse(row.options) };
    const takesNew = job.status === 'running';
    const takesOver = takesNew || job.status === 'cancelling' || job.status === 'suspended';
    if (!takesOver) return { job, handler, counts: {}, done: 0, deferred: [], owner, heldElsewhereUntil: null };
    await lockChunk(trx, jobId, chunk);
    pausePoint('take');
    // The chunk's first take reads its unstarted items without writing them: each is inserted
    // once, with its result (or `running`), instead of a pending row now and its result later.
    const fresh = takesNew ? await takeUnstarted(trx, jobId, chunk) : [];
    // A chunk is either still a chunk row or already item rows, never both (a chunk row is only
    // ever replaced whole, under this lock): one that came fresh has no item rows to read, and no
    // running item held by another attempt to wait for. Two statements a chunk fewer.
    const rows: ItemRow[] = fresh.length
      ? []
      : await trx('bulk_job_items')
          .where({ job_id: jobId, chunk })
          .where((b) => {
            if (takesNew) b.orWhere({ status: 'pending' });
            b.orWhere((r) => leaseFree(r.where({ status: 'running' }), trx));
          })
          .orderBy('id');
    const items = fresh.length ? [...rows, ...fresh].sort((a, b) => a.id - b.id) : rows;
    const { deferred, counts, retryAt, deferredFields } = items.length
      ? await handler.inTake(deps, trx, job, items)
      : { deferred: [], counts: {}, deferredFields: undefined };
    const deferredRows = deferred.filter((i) => !i.fresh);
    if (deferredRows.length) {
      await trx('bulk_job_items')
        .whereIn(
          'id',
          deferredRows.map((i) => i.id),
        )
        .update({
          ...deferredFields,
          status: 'running',
          started_at: trx.raw('coalesce(started_at, now())'),
          lease_until: leaseExpr(trx, leaseMs),
          lease_owner: owner,
        });
    }
    for (const i of deferred) i.lease_owner = owner;
    const deferredFresh = deferred.filter((i) => i.fresh);
    await insertItems(trx, deferredFresh, {
      status: deferredFresh.map(() => 'running'),
      leaseMs,
      leaseOwner: owner,
      columns: deferredFields,
    });
    // Fresh items the handler left for later (a domain another job holds) are written pending.
    const waitingFresh = fresh.filter((i) => i.fresh);
    await insertItems(trx, waitingFresh, { status: waitingFresh.map(() => 'pending') });
    const held = fresh.length
      ? undefined
      : await trx('bulk_job_items')
          .where({ job_id: jobId, chunk, status: 'running' })
          .whereNotIn(
            'id',
            deferred.map((i) => i.id),
          )
          .max('lease_until as until')
          .first();
    const until = [held?.until ? new Date(held.until) : null, retryAt ?? null].filter((d): d is Date => d !== null);
    const heldElsewhereUntil = until.length ? new Date(Math.min(...until.map((d) => d.getTime()))) : null;
    const waiting = items.length - deferred.length - Object.values(counts).reduce((a, b) => a + b, 0);
    pausePoint('before_take_commit');
    return { job, handler, counts, done: items.length - deferred.length - waiting, deferred, owner, heldElsewhereUntil };
  });
}

/**
 * Keeps the lease of deferred items alive while they are worked on (registry calls can be slow),
 * through the relock that follows the push. The returned function ends it: the items are then
 * free for a retry or the reconciler to finish (e.g. a relock that failed). Only rows this attempt
 * still holds are renewed or released: a lease that ran out (a pause) is lost for good, and items
 * another attempt took over are that attempt's.
 */
export function keepLease(deps: Deps, items: ItemRow[]): () => Promise<void> {
  const leaseMs = deps.config.WORKER_LOCK_MS;
  const ids = items.map((i) => i.id);
  const owner = items.find((i) => i.lease_owner)?.lease_owner ?? null;
  const mine = (q: Knex.QueryBuilder) => (owner ? q.where({ lease_owner: owner }) : q.whereNull('lease_owner'));
  const timer = setInterval(
    () => {
      deps
        .db('bulk_job_items')
        .whereIn('id', ids)
        .modify(mine)
        .where({ status: 'running' })
        .where('lease_until', '>', deps.db.raw('clock_timestamp()'))
        .update({ lease_until: leaseExpr(deps.db, leaseMs) })
        .catch((err) => deps.log.warn({ err: err.message }, 'could not renew item lease'));
    },
    Math.max(100, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return async () => {
    clearInterval(timer);
    // Items whose last write already ended the lease (a push's relock does) are not written again.
    await deps.db('bulk_job_items').whereIn('id', ids).modify(mine).whereNotNull('lease_until').update({ lease_until: null });
  };
}
