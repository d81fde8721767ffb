import type { BulkKindDef, FinishHook, Sweep } from '../bulk/kind';
import type { Knex } from 'knex';
import type { Db } from '../platform/db';
import { queueEmail, type AttachmentRenderer } from '../mail/outbox';
import { consoleJobUrl } from '../mail/links';
import { countItems } from '../bulk/model';
import { csvAttachment } from '../bulk/results-attachment';
import {
  gainingNotification,
  NOTICE_LISTED,
  RECEIVED_CSV,
  receivedCsv,
  receivedCsvRows,
  receivedFile,
  type ReceivedDomain,
  type ReceivedSummary,
} from './emails';
import { pendingRelocks, pushHandler, relock } from './handler';
import { unlockBoundMs, unlockedPastBound } from './unlocked';
import { pushOptions, type PushOptions } from './options';
import { checkPushAtStart, gainingNextCycle } from './start';

/**
 * The gaining reseller hears about the domains it received, if it gave a notification email: a
 * summary with every domain in an attached CSV (with the registrant profile each one now has).
 * The job's end reads only what the summary says (counts, the first names); the CSV is made by the
 * relay when it sends the email (`renderReceived`), after the job has ended: joining every pushed
 * item to its domain and profile is a pass over the whole job, which held the job's end (and its
 * row lock) for as long.
 */
const notifyGaining: FinishHook = async (deps, trx, job, summary) => {
  // The gaining side's notification email is one of its push settings (accounts' column, read here).
  const gaining: { id: number; push_notification_email: string | null } | undefined = job.gaining_reseller_id
    ? await trx('resellers').where({ id: job.gaining_reseller_id }).first('id', 'push_notification_email')
    : undefined;
  if (!gaining?.push_notification_email || (summary.counts.pushed ?? 0) === 0) return;
  const received = await receivedSummary(trx, job.id, summary.counts.pushed);
  await queueEmail(trx, gainingNotification(gaining.push_notification_email, summary, received, consoleJobUrl(deps.config, job.id)));
};

/** What the notice says of the `count` pushed items: how many were locked and locked again, the first names; one statement. */
async function receivedSummary(trx: Knex, jobId: string, count: number): Promise<ReceivedSummary> {
  const { rows } = await trx.raw(
    `select count(*) filter (where was_locked)::int as locked,
            count(*) filter (where was_locked and relocked)::int as relocked,
            array(select domain_name from bulk_job_items where job_id = ?::uuid and status = 'pushed' order by id limit ?::int) as first
     from bulk_job_items where job_id = ?::uuid and status = 'pushed'`,
    [jobId, NOTICE_LISTED, jobId],
  );
  const r = rows[0];
  return { count, locked: r.locked, relocked: r.relocked, first: (r.first as string[]).map((domain) => ({ domain })) };
}

/** Rows per read of the gaining notice's CSV: a 500,000-domain job is never in memory at once. */
const RECEIVED_PAGE = 5_000;

/** The pushed items in id order, page by page (keyset), each with the gaining side's profile the domain has now. */
async function* receivedPages(db: Db, jobId: string, gainingId: number): AsyncGenerator<string> {
  yield receivedCsv([]);
  let after = 0;
  for (;;) {
    const page: (ReceivedDomain & { id: string })[] = await db('bulk_job_items as i')
      .leftJoin('domains as d', 'd.name', 'i.domain_name')
      .leftJoin('profiles as p', (on) => on.on('p.id', 'd.profile_id').andOnVal('p.reseller_id', gainingId))
      .where({ 'i.job_id': jobId, 'i.status': 'pushed' })
      .where('i.id', '>', after)
      .orderBy('i.id')
      .limit(RECEIVED_PAGE)
      .select(
        'i.id',
        'i.domain_name as domain',
        'i.finished_at as pushed_at',
        db.raw('coalesce(i.was_locked, false) as was_locked'),
        'i.relocked',
        'p.username as profile',
      );
    if (page.length) yield receivedCsvRows(page);
    if (page.length < RECEIVED_PAGE) return;
    after = Number(page[page.length - 1].id);
  }
}

/**
 * The gaining notice's CSV: every domain received, with the gaining side's profile it has when the
 * email is sent; gzipped past PLAIN_CSV_MAX_ITEMS domains, like the results CSV (the relay runs in
 * the worker, whose memory a 35 MB string of a 500,000-domain job would blow past its bound).
 */
const renderReceived: AttachmentRenderer = async (db: Db, args) => {
  const job: { id: string; gaining_reseller_id: number | null } | undefined = await db('bulk_jobs')
    .where({ id: String(args.job_id) })
    .first('id', 'gaining_reseller_id');
  if (!job) throw new Error(`no bulk job ${args.job_id}`);
  const count = (await countItems(db, job.id)).pushed ?? 0;
  return csvAttachment(receivedFile(job.id, count), receivedPages(db, job.id, Number(job.gaining_reseller_id)));
};

/** A domain the push unlocked is locked again, whatever happened to the attempt that unlocked it. */
const relockSweep: Sweep = {
  // An item whose domain it unlocked and not yet locked again, or a domain the ledger shows
  // unlocked (even one whose item says relocked): the job stays open. Each probe its own index.
  owesSql: `exists (select 1 from bulk_job_items where job_id = ?::uuid and was_locked = true and relocked = false)
            or exists (select 1 from registry_unlocked where job_id = ?::uuid)`,
  async run(deps, scope) {
    const owed = await pendingRelocks(deps, scope);
    if (owed.length) await relock(deps, owed, null);
    return owed.length;
  },
};

/** "Move to another reseller": domains leave the losing reseller for the gaining one. */
export const pushKind: BulkKindDef<PushOptions> = {
  name: 'push',
  jobName: 'push-chunk',
  doneStatus: 'pushed',
  reasons: {
    not_found: 'Not on the platform',
    not_owned: 'Not held by the sending reseller',
    locked: 'Locked (apply to locked was off)',
    invalid_domain: 'Not a valid domain name',
    feature_disabled: 'Domain push no longer enabled',
    not_authorized: 'Not authorized by the receiver',
  },
  options: pushOptions,
  handler: pushHandler,
  finish: notifyGaining,
  sweep: relockSweep,
  checkAtStart: checkPushAtStart,
  nextCycle: (deps, job, now) => gainingNextCycle(deps.db, Number(job.gaining_reseller_id), now),
  path: '/v1/bulk-pushes',
  publicOptions(job) {
    // The stored profile never holds the password; the internal id is not part of the public view.
    const { profile, ...rest } = job.options as { profile?: PushOptions['profile'] };
    if (!profile) return rest;
    return {
      ...rest,
      profile:
        profile.mode === 'existing' ? { mode: profile.mode, domain: profile.domain, username: profile.username } : { mode: profile.mode },
    };
  },
  resultsTitle: (summary) => `Bulk push to ${summary.gaining}`,
  emails: { gainingNotification },
  renderers: { [RECEIVED_CSV]: renderReceived },
  async readAtScrape(deps) {
    deps.metrics.unlockedDomains.set(await unlockedPastBound(deps.db, unlockBoundMs(deps.config)));
  },
  labels: {
    noun: 'Bulk push',
    unit: 'domain',
    units: 'domains',
    title: (p, side) => (side === 'sent' ? `Push to ${p.gaining ?? '?'}` : `Received from ${p.losing ?? '?'}`),
    details: pushDetails,
  },
};

const SOURCES: Record<string, string> = {
  domains: 'Domains picked or listed by name',
  domain_list: 'A pasted or uploaded domain list',
  all_domains: 'Every domain of the sending reseller',
};

/** A push's options in words; an option an older job did not record is left out. */
function pushDetails(o: Record<string, unknown>): Array<{ label: string; value: string }> {
  const out: Array<{ label: string; value: string }> = [];
  const profile = o.profile as { mode?: string; domain?: string; username?: string } | undefined;
  if (profile) {
    out.push({
      label: 'Profile',
      value:
        profile.mode === 'existing' ? `Existing profile ${profile.username} of ${profile.domain}` : 'A new profile for each domain owner',
    });
  }
  if (o.apply_to_locked !== undefined) {
    out.push({
      label: 'Locked domains',
      value: o.apply_to_locked ? 'Applied to: unlocked, moved and locked again' : 'Skipped (left locked)',
    });
  }
  if (typeof o.source === 'string') out.push({ label: 'Source', value: SOURCES[o.source] ?? o.source });
  if (typeof o.duplicates_removed === 'number')
    out.push({ label: 'Duplicates removed', value: o.duplicates_removed.toLocaleString('en-US') });
  if (o.skip_invalid !== undefined) {
    out.push({
      label: 'Invalid names',
      value: o.skip_invalid ? 'Skipped: the valid names were moved' : 'Not skipped: an invalid name refuses the list',
    });
  }
  return out;
}
