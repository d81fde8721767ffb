import type { Knex } from 'knex';
import { consoleJobUrl } from '../mail/links';
import { queueEmail } from '../mail/outbox';
import type { JobSummary } from '../mail/templates';
import { recordJobEvent } from '../events/events';
import { PROBLEM_ROWS, resultsEmail } from './results-email';
import { kindOf, type BulkDeps, type BulkKindDef, type KindTable } from './kind';
import { countItems, FINISHED_JOB, jobParties, OPEN_ITEM, type BulkJob } from './model';
import { jobOutcome } from './outcome';
import { resultsAttachmentToRender } from './results-attachment';

/**
 * Ends the job once every item is terminal and its kind owes nothing more (a push: every domain it
 * unlocked is locked again), then runs the kind's finish hook and writes the emails. Runs in
 * its own transaction after the items' commit, so of two chunks finishing together the later one
 * sees both; the row lock makes the end (and its emails, written in the same transaction) happen once.
 */
export async function finalizeIfDone(deps: BulkDeps, jobId: string): Promise<JobSummary | null> {
  // Most chunks end while others are open: answer that without queueing for the job row lock
  // (takes in flight hold it FOR SHARE). Each caller probes after its own commit, so the last
  // chunk to commit sees everything.
  const probe = await openWork(deps.kinds, deps.db, jobId);
  if (probe.open || !probe.status || FINISHED_JOB.includes(probe.status)) return null;
  const ended = await deps.db.transaction(async (trx) => {
    const job: BulkJob | undefined = await trx('bulk_jobs').where({ id: jobId }).forUpdate().first();
    if (!job || FINISHED_JOB.includes(job.status)) return null;
    if ((await openWork(deps.kinds, trx, jobId)).open) return null;
    const status = job.status === 'cancelling' ? 'cancelled' : job.error ? 'failed' : 'completed';
    const [done]: BulkJob[] = await trx('bulk_jobs')
      .where({ id: jobId })
      // A job cancelled before any item started (in its grace window, say) never started: its
      // started_at stays null, so no view reads "started at" for a push that moved nothing.
      .update({
        status,
        finished_at: trx.fn.now(),
        ...(status === 'cancelled' ? {} : { started_at: trx.raw('coalesce(started_at, now())') }),
      })
      .returning('*');
    const kind = kindOf(deps.kinds, done.kind);
    const summary = await summarize(trx, kind, done);
    await kind.finish?.(deps, trx, done, summary);
    await recordJobEvent(trx, 'bulk_job.finished', done, {
      outcome: jobOutcome({ ...summary, doneStatus: kind.doneStatus }),
      counts: summary.counts,
    });
    if (done.options.email_results_to) {
      const problems = await trx('bulk_job_items')
        .where({ job_id: done.id })
        .whereIn('status', ['failed', 'skipped'])
        .orderBy('id')
        .limit(PROBLEM_ROWS)
        .select('domain_name as domain', 'status', 'reason', 'message');
      const jobUrl = consoleJobUrl(deps.config, done.id);
      const email = resultsEmail(done.options.email_results_to, summary, kind.resultsTitle(summary), problems, jobUrl);
      // The CSV of every item is made by the relay when it sends the email, after this commit.
      await queueEmail(trx, { ...email, attachments: [resultsAttachmentToRender(done)] });
    }
    return { done, summary };
  });
  if (!ended) return null;
  const { done: endedJob, summary } = ended;
  if (endedJob.started_at && endedJob.finished_at) {
    deps.metrics.jobDuration.observe(
      { kind: endedJob.kind, status: endedJob.status },
      (new Date(endedJob.finished_at).getTime() - new Date(endedJob.started_at).getTime()) / 1000,
    );
  }
  deps.log.info({ job_id: endedJob.id, kind: endedJob.kind, status: endedJob.status }, 'bulk job ended');
  return summary;
}

/**
 * Unstarted chunks, open items, then what any kind's sweep still owes: each an EXISTS of its own
 * (served by its own index, and evaluated only while the ones before found nothing), in one
 * statement: asked after every chunk, four round trips were a sixth of a chunk's statements. A
 * sweep finds nothing on another kind's job, so the job's kind need not be read first. The job's
 * status comes with it, so an ended job is told without locking its row.
 */
async function openWork(kinds: KindTable, db: Knex, jobId: string): Promise<{ open: boolean; status: BulkJob['status'] | undefined }> {
  const owes = Object.values(kinds).flatMap((k) => (k.sweep ? [k.sweep.owesSql] : []));
  const probes = [
    'exists (select 1 from bulk_job_chunks where job_id = ?::uuid)',
    // The statuses as literals, as the partial index bulk_job_items_open is defined.
    `exists (select 1 from bulk_job_items where job_id = ?::uuid and status in (${OPEN_ITEM.map((st) => `'${st}'`).join(', ')}))`,
    ...owes.map((o) => `(${o})`),
  ];
  const bindings = [jobId, jobId, ...owes.flatMap((o) => Array.from(o.matchAll(/\?/g), () => jobId)), jobId];
  const { rows } = await db.raw(
    `select ${probes.join(' or ')} as open, (select status from bulk_jobs where id = ?::uuid) as status`,
    bindings,
  );
  return { open: rows[0].open === true, status: rows[0].status ?? undefined };
}

/** What the emails say about an ended job. */
async function summarize(trx: Knex.Transaction, kind: BulkKindDef, job: BulkJob): Promise<JobSummary> {
  const counts = await countItems(trx, job.id);
  const { losing, gaining } = await jobParties(trx, job);
  return {
    id: job.id,
    kind: job.kind,
    doneStatus: kind.doneStatus,
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
}
