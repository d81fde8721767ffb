import type { Knex } from 'knex';
import type { Deps } from '../platform/deps';
import { queueEmail } from '../mail/outbox';
import { releaseFinished } from '../customers/release';
import { gainingNotification, PROBLEM_ROWS, resultsEmail, type JobSummary } from '../mail/templates';
import { countItems, DONE_STATUS, FINISHED_JOB, jobParties, OPEN_ITEM, type BulkJob } from './model';
import { collectCsv } from './views';

/** Extra work a job kind does in the transaction that ends it (a release marks the customer). */
type FinishHook = (deps: Deps, trx: Knex.Transaction, job: BulkJob, status: string) => Promise<void>;
const finishHooks: Partial<Record<BulkJob['kind'], FinishHook>> = { release: releaseFinished };

/**
 * Ends the job once every item is terminal and every domain it unlocked is locked again. Runs in
 * its own transaction after the items' commit, so of two chunks finishing together the later one
 * sees both; the row lock makes the end (and its emails, written in the same transaction) happen once.
 */
export async function finalizeIfDone(deps: Deps, jobId: string): Promise<boolean> {
  // Most chunks end while others are open: answer that without queueing for the job row lock
  // (claims in flight hold it FOR SHARE). Each caller probes after its own commit, so the last
  // chunk to commit sees everything.
  if (await hasOpenWork(deps.db, jobId)) return false;
  const ended = await deps.db.transaction(async (trx) => {
    const job: BulkJob | undefined = await trx('bulk_jobs').where({ id: jobId }).forUpdate().first();
    if (!job || FINISHED_JOB.includes(job.status)) return null;
    if (await hasOpenWork(trx, jobId)) return null;
    const status = job.status === 'cancelling' ? 'cancelled' : job.error ? 'failed' : 'completed';
    const [done]: BulkJob[] = await trx('bulk_jobs')
      .where({ id: jobId })
      .update({ status, finished_at: trx.fn.now(), started_at: trx.raw('coalesce(started_at, now())') })
      .returning('*');
    await finishHooks[job.kind]?.(deps, trx, done, status);
    await queueJobEmails(trx, done);
    return done;
  });
  if (!ended) return false;
  if (ended.started_at && ended.finished_at) {
    deps.metrics.jobDuration.observe(
      { kind: ended.kind, status: ended.status },
      (new Date(ended.finished_at).getTime() - new Date(ended.started_at).getTime()) / 1000,
    );
  }
  deps.log.info({ job_id: ended.id, kind: ended.kind, status: ended.status }, 'bulk job ended');
  return true;
}

/** Two probes, each served by its own partial index, instead of one OR that scans the job. */
async function hasOpenWork(db: Knex, jobId: string): Promise<boolean> {
  const open =
    (await db('bulk_job_items').where({ job_id: jobId }).whereIn('status', OPEN_ITEM).first('id')) ??
    (await db('bulk_job_items').where({ job_id: jobId, was_locked: true, relocked: false }).first('id'));
  return !!open;
}

async function queueJobEmails(trx: Knex.Transaction, job: BulkJob) {
  const counts = await countItems(trx, job.id);
  const { losing, gaining } = await jobParties(trx, job);
  const summary: JobSummary = {
    id: job.id,
    kind: job.kind,
    status: job.status,
    total: job.total,
    counts,
    losing: losing?.username ?? '?',
    gaining: gaining?.username ?? null,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    error: job.error,
  };
  if (job.options.email_results_to) {
    const problems = await trx('bulk_job_items')
      .where({ job_id: job.id })
      .whereIn('status', ['failed', 'skipped'])
      .orderBy('id')
      .limit(PROBLEM_ROWS)
      .select('domain_name as domain', 'status', 'reason', 'message');
    await queueEmail(trx, resultsEmail(job.options.email_results_to, summary, await collectCsv(trx, job.id), problems));
  }
  const done = DONE_STATUS[job.kind];
  if (job.kind === 'push' && gaining?.push_notification_email && (counts[done] ?? 0) > 0) {
    const names = await trx('bulk_job_items').where({ job_id: job.id, status: done }).orderBy('id').pluck('domain_name');
    await queueEmail(trx, gainingNotification(gaining.push_notification_email, summary, names));
  }
}
