import { z } from 'zod';
import { Conflict, InvalidRequest } from '../platform/errors';
import type { Reseller } from '../accounts/resellers';
import { enqueueNamedChunks } from './chunk-names';
import { openChunks } from './control';
import { finalizeIfDone } from './finalize';
import { kindOf, type BulkDeps, type BulkKindDef } from './kind';
import { jobFor, type BulkJob } from './model';
import { endUnstarted } from './unstarted';
import { passJobGate } from './locks';

/**
 * A job may wait before anything moves: a grace window (`start_after_seconds`) in which a person
 * can still stop it, or a schedule (`start_at`, or `next_cycle` for a kind that has billing
 * cycles). Such a job is `scheduled` with its `start_at` in Postgres and nothing in Redis; the
 * scheduler (every worker, each SCHEDULER_INTERVAL_MS) starts the due ones. Postgres being the
 * only record is what makes a restart of any process or server during the wait harmless: nothing
 * is lost (the row stays), nothing starts early (only `start_at <= now` is started) and nothing
 * starts twice (the start is a conditional update of the row, under its lock).
 */

/** The grace window's bound; longer waits are schedules. */
const MAX_START_AFTER_SECONDS = 3600;
/** How far ahead a job may be scheduled (`next_cycle` may reach 31 days: a cycle is a month). */
const MAX_SCHEDULE_DAYS = 30;

const isoTime = z.iso.datetime({ offset: true });

/** The submit body's fields that say when a job starts. */
export const startFields = {
  start_after_seconds: z.number().int().min(0).max(MAX_START_AFTER_SECONDS).optional(),
  start_at: z.union([z.literal('next_cycle'), isoTime]).optional(),
};

export const rescheduleInput = z
  .strictObject({
    start_after_seconds: startFields.start_after_seconds,
    start_at: z.union([z.literal('next_cycle'), z.literal('now'), isoTime]).optional(),
  })
  .refine((b) => (b.start_at === undefined) !== (b.start_after_seconds === undefined), {
    message: 'give exactly one of start_at or start_after_seconds',
    path: ['start_at'],
  });

type StartRequest = { start_after_seconds?: number; start_at?: string };

interface ResolvedStart {
  /** When the job starts; null: at once. */
  startAt: Date | null;
  /** What was asked, as the job's options show it (`next_cycle`, an ISO time, or null). */
  requested: string | null;
}

/**
 * When a job asked to start at `req` starts. `nextCycle` gives the kind's next cycle start (a push:
 * the gaining reseller's next billing cycle); a kind without cycles refuses `next_cycle`.
 */
export async function resolveStart(now: Date, req: StartRequest, nextCycle?: () => Promise<Date>): Promise<ResolvedStart> {
  const after = req.start_after_seconds ?? 0;
  if (req.start_at !== undefined && after > 0) {
    throw new InvalidRequest('Give either start_at or start_after_seconds, not both.', {
      fields: [{ path: 'body.start_at', message: 'not together with start_after_seconds' }],
    });
  }
  if (req.start_at === 'now') return { startAt: null, requested: null };
  if (req.start_at === 'next_cycle') {
    if (!nextCycle) throw new InvalidRequest('This kind of job has no billing cycle to start at.');
    return { startAt: await nextCycle(), requested: 'next_cycle' };
  }
  if (req.start_at !== undefined) {
    const at = new Date(req.start_at);
    const field = (message: string) => ({ fields: [{ path: 'body.start_at', message }] });
    if (at.getTime() < now.getTime()) {
      throw new InvalidRequest(
        `start_at (${req.start_at}) is in the past; give a time to come, or leave it out to start now.`,
        field('in the past'),
      );
    }
    if (at.getTime() > now.getTime() + MAX_SCHEDULE_DAYS * 86_400_000) {
      throw new InvalidRequest(
        `start_at may be at most ${MAX_SCHEDULE_DAYS} days ahead.`,
        field(`more than ${MAX_SCHEDULE_DAYS} days ahead`),
      );
    }
    return { startAt: at, requested: at.toISOString() };
  }
  return { startAt: after > 0 ? new Date(now.getTime() + after * 1000) : null, requested: null };
}

/** Scheduled jobs the scheduler looks at per pass (the rest are taken on the next pass). */
const DUE_BATCH = 100;

/** Starts every scheduled job whose time has come. Every worker runs it; a start happens once. */
export async function startDueJobs(deps: BulkDeps): Promise<number> {
  const due: { id: string }[] = await deps
    .db('bulk_jobs')
    .where({ status: 'scheduled' })
    .where('start_at', '<=', deps.clock())
    .orderBy('start_at')
    .limit(DUE_BATCH)
    .select('id');
  let started = 0;
  for (const { id } of due) if (await startScheduledJob(deps, id)) started++;
  return started;
}

/**
 * Moves one due job from `scheduled` to `queued` and enqueues its chunks. The row is locked and its
 * status and time read again under the lock, so of two schedulers (or a scheduler and a cancel)
 * only one acts. If the enqueue fails after the commit the reconciler enqueues the chunks (a queued
 * job's missing chunks are its business).
 */
async function startScheduledJob(deps: BulkDeps, id: string): Promise<boolean> {
  const started = await deps.db.transaction(async (trx) => {
    await passJobGate(trx, id, 'exclusive');
    const job: BulkJob | undefined = await trx('bulk_jobs').where({ id }).forUpdate().first();
    if (job?.status !== 'scheduled' || !job.start_at || new Date(job.start_at) > deps.clock()) return null;
    const kind = kindOf(deps.kinds, job.kind);
    const refusal = kind.checkAtStart ? await kind.checkAtStart(deps, job) : null;
    if (refusal) {
      await endUnstarted(trx, id, { status: 'failed', reason: refusal.reason, message: `At start: ${refusal.message}` });
      await trx('bulk_job_items')
        .where({ job_id: id, status: 'pending' })
        .update({ status: 'failed', reason: refusal.reason, message: `At start: ${refusal.message}`, finished_at: trx.fn.now() });
    }
    const [row]: BulkJob[] = await trx('bulk_jobs').where({ id }).update({ status: 'queued' }).returning('*');
    return { job: row, kind, refusal };
  });
  if (!started) return false;
  const { job, kind, refusal } = started;
  deps.log.info({ job_id: id, kind: job.kind, start_at: job.start_at, refused: refusal?.reason ?? null }, 'scheduled bulk job started');
  if (refusal) {
    await finalizeIfDone(deps, id);
    return true;
  }
  await enqueueChunks(deps, kind, job);
  return true;
}

async function enqueueChunks(deps: BulkDeps, kind: BulkKindDef, job: BulkJob) {
  const chunks = await openChunks(deps, job.id, ['pending']);
  await enqueueNamedChunks(deps, kind.jobName, job, chunks).catch((err) =>
    deps.log.warn({ job_id: job.id, err: (err as Error).message }, 'started job not enqueued; the reconciler will enqueue it'),
  );
}

/**
 * A job that has not started yet gets another start time: a scheduled one stays scheduled (or
 * starts at once with `now`); a job suspended before its start keeps its suspension and takes the
 * new time on resume.
 */
export async function rescheduleJob(deps: BulkDeps, me: Reseller, id: string, req: StartRequest, kindName?: string) {
  const now = deps.clock();
  const job = await jobFor(deps.db, me.id, id, 'control', { kind: kindName });
  const kind = kindOf(deps.kinds, job.kind);
  const resolved = await resolveStart(now, req, kind.nextCycle ? () => kind.nextCycle!(deps, job, now) : undefined);
  const row = await deps.db.transaction(async (trx) => {
    await passJobGate(trx, id, 'exclusive');
    const j: BulkJob = await trx('bulk_jobs').where({ id }).forUpdate().first();
    const notStarted = j.status === 'scheduled' || (j.status === 'suspended' && !j.started_at && j.start_at);
    if (!notStarted) {
      throw new Conflict(
        'invalid_state',
        `A ${j.status} job has already started (or never waited); only a job waiting to start can be rescheduled.`,
      );
    }
    const startAt = resolved.startAt ?? now;
    const [updated]: BulkJob[] = await trx('bulk_jobs')
      .where({ id })
      .update({
        start_at: startAt,
        options: JSON.stringify({
          ...j.options,
          start_at_requested: resolved.requested,
          start_after_seconds: req.start_after_seconds ?? 0,
        }),
      })
      .returning('*');
    return updated;
  });
  deps.log.info({ job_id: id, kind: row.kind, reseller: me.username, start_at: row.start_at }, 'bulk job rescheduled');
  // Due now: start it in this request rather than waiting for the next pass of the scheduler.
  if (row.status === 'scheduled' && new Date(row.start_at!) <= now) await startScheduledJob(deps, id);
  return row;
}
