import { expect } from 'chai';
import { countItemsOf } from '../../../shared/bulk/model';
import { resultsMails, waitUntil } from '../../helpers/resilience';
import type { TestSystem } from '../../helpers/system';

export interface JobUnderFault {
  id: string;
  applyToLocked: boolean;
}

/**
 * The promise of a push after any fault (docs/faults.md), checked from Postgres and the SMTP peer: every
 * job ended with its counts adding up, the gaining reseller owns exactly the pushed domains, no
 * domain is billed twice, no billing event or moved domain lacks a pushed item of an existing
 * job, every originally locked domain is locked, a job with apply_to_locked=false pushed no
 * locked domain, and each job sent exactly one results email.
 */
export async function expectPushPromiseKept(
  sys: TestSystem,
  opts: {
    jobs: JobUnderFault[];
    domains: string[];
    originallyLocked: Set<string>;
    losing: string;
    gaining: string;
    /** Every domain of every job must end pushed (no fault may fail an item). */
    allPushed?: boolean;
    timeoutMs?: number;
  },
) {
  const { db } = sys;
  const jobIds = opts.jobs.map((j) => j.id);
  const ended = await waitUntil(
    'every job to end',
    // The database may still be coming back: a failed probe is "not yet".
    () =>
      db('bulk_jobs')
        .whereIn('id', jobIds)
        .select('id', 'status', 'total', 'error')
        .then((rows) => rows.length === jobIds.length && rows.every((r) => ['completed', 'cancelled', 'failed'].includes(r.status)) && rows)
        .catch(() => null),
    opts.timeoutMs ?? 180_000,
    100,
  );
  for (const job of ended) expect(job.status, `job ${job.id} (${job.error ?? ''})`).to.equal('completed');

  const items: { job_id: string; domain_name: string; status: string; reason: string | null; message: string | null }[] = await db(
    'bulk_job_items',
  )
    .whereIn('job_id', jobIds)
    .select('job_id', 'domain_name', 'status', 'reason', 'message');
  for (const job of ended) {
    const own = items.filter((i) => i.job_id === job.id);
    expect(own, `items of ${job.id}`).to.have.length(Number(job.total));
    const open = own.filter((i) => i.status === 'pending' || i.status === 'running');
    expect(open, 'items not terminal').to.deep.equal([]);
  }
  if (opts.allPushed) {
    const notPushed = items.filter((i) => i.status !== 'pushed').map((i) => `${i.domain_name}: ${i.status}/${i.reason} ${i.message ?? ''}`);
    expect(notPushed, 'items that did not end pushed').to.deep.equal([]);
  }

  const pushed = items.filter((i) => i.status === 'pushed');
  const pushedBy = new Map<string, string[]>();
  for (const i of pushed) pushedBy.set(i.domain_name, [...(pushedBy.get(i.domain_name) ?? []), i.job_id]);
  const twice = [...pushedBy].filter(([, jobs]) => jobs.length > 1).map(([d]) => d);
  expect(twice, 'domains pushed by two items').to.deep.equal([]);

  const forbidden = pushed.filter(
    (i) => opts.originallyLocked.has(i.domain_name) && !opts.jobs.find((j) => j.id === i.job_id)!.applyToLocked,
  );
  expect(
    forbidden.map((i) => i.domain_name),
    'locked domains pushed by a job with apply_to_locked=false',
  ).to.deep.equal([]);

  const resellers = await db('resellers').whereIn('username', [opts.losing, opts.gaining]).select('id', 'username');
  const idOf = (u: string) => Number(resellers.find((r) => r.username === u)!.id);
  const domains: { id: number; name: string; reseller_id: number; locked: boolean }[] = await db('domains')
    .whereIn('name', opts.domains)
    .select('id', 'name', 'reseller_id', 'locked');
  expect(domains).to.have.length(opts.domains.length);
  const ownedByGaining = domains.filter((d) => Number(d.reseller_id) === idOf(opts.gaining)).map((d) => d.name);
  expect(ownedByGaining.sort(), 'the gaining reseller owns exactly the pushed domains').to.deep.equal([...pushedBy.keys()].sort());
  const strays = domains.filter((d) => Number(d.reseller_id) !== idOf(opts.gaining) && Number(d.reseller_id) !== idOf(opts.losing));
  expect(strays, 'domains owned by neither party').to.deep.equal([]);
  const unlocked = domains.filter((d) => opts.originallyLocked.has(d.name) && !d.locked).map((d) => d.name);
  expect(unlocked, 'originally locked domains left unlocked').to.deep.equal([]);

  // Billing: one push_in and one push_out per pushed item, nothing else, each naming that item's job.
  const byId = new Map(domains.map((d) => [Number(d.id), d.name]));
  const billing: { domain_id: number; job_id: string | null; kind: string }[] = await db('billing_events')
    .whereIn('domain_id', [...byId.keys()])
    .select('domain_id', 'job_id', 'kind');
  const seen = new Set<string>();
  const orphans: string[] = [];
  for (const b of billing) {
    const name = byId.get(Number(b.domain_id))!;
    const key = `${name}:${b.kind}`;
    expect(seen.has(key), `${key} billed twice`).to.equal(false);
    seen.add(key);
    if (!b.job_id || !pushedBy.get(name)?.includes(b.job_id)) orphans.push(`${key} (job ${b.job_id})`);
  }
  expect(orphans, 'billing events without a pushed item of an existing job').to.deep.equal([]);
  for (const name of pushedBy.keys()) {
    expect(seen.has(`${name}:push_in`) && seen.has(`${name}:push_out`), `${name} billed on both sides`).to.equal(true);
  }

  for (const id of jobIds) {
    await waitUntil(`the results email of ${id}`, async () => resultsMails(sys, id).length > 0, 60_000, 100);
    expect(resultsMails(sys, id), `results emails of ${id}`).to.have.length(1);
  }
}

/**
 * What a run needs to be judged afterwards: its jobs, its domains, which were locked and each
 * domain's row digest before the run (`recordRun`, called before the first submit).
 */
export interface RunUnderFault {
  label: string;
  jobs: JobUnderFault[];
  domains: string[];
  originallyLocked: Set<string>;
  /** md5 of each domain row's text form before the run. */
  digests: Map<string, string>;
  losing: string;
  gaining: string;
}

async function rowDigests(db: TestSystem['db'], domains: string[]): Promise<Map<string, string>> {
  const { rows } = await db.raw('select d.name, md5(d::text) as digest from domains d where d.name = any(?::text[])', [domains]);
  return new Map((rows as { name: string; digest: string }[]).map((r) => [r.name, r.digest]));
}

export async function recordRun(
  sys: TestSystem,
  run: Omit<RunUnderFault, 'digests' | 'jobs' | 'losing' | 'gaining'> & { losing?: string; gaining?: string },
): Promise<RunUnderFault> {
  return { losing: 'losing', gaining: 'gaining', ...run, jobs: [], digests: await rowDigests(sys.db, run.domains) };
}

/**
 * A log of every registry call the DB registry answers (`domains.locked` written), with the time
 * and the backend that wrote it: lets a run see a late unlock (after its job ended), which the end
 * state alone may hide when something locked the domain again afterwards.
 */
export async function installRegistryLog(sys: TestSystem): Promise<void> {
  await sys.db.raw(`
    create table if not exists h_registry_log (
      id bigserial primary key, name text not null, locked boolean not null,
      at timestamptz not null default clock_timestamp(), backend int not null default pg_backend_pid());
    create or replace function h_log_registry() returns trigger language plpgsql as $$
      begin insert into h_registry_log (name, locked) values (new.name, new.locked); return new; end $$;
    drop trigger if exists h_registry_log on domains;
    create trigger h_registry_log after update of locked on domains for each row execute function h_log_registry();`);
}

/** The Message-ID the relay gives an outbox row (shared/mail/outbox.ts), without angle brackets. */
export const messageIdOf = (dedupeKey: string) => `${dedupeKey.replace(/[^A-Za-z0-9.-]/g, '.')}@domain-push`;

/**
 * Every invariant of a push after a fault, by SQL (and the SMTP peer's mailbox): returns one line
 * per violation, an empty list when the run kept the promise. Call it once the jobs have ended and
 * the outbox has drained (`waitForRunEnd`), with the workers settled.
 *
 * - one item per domain per job, each job's items = its total, none open, the job `completed`;
 * - each pushed domain owned by the gaining reseller and pushed by one item only; the gaining
 *   reseller owns exactly the pushed domains; exactly one push_in and one push_out per pushed
 *   domain, naming its job; no billing event for a domain not pushed;
 * - every originally locked domain locked at the end (`domains.locked`, the DB registry), and
 *   (with installRegistryLog) no domain unlocked after its job ended;
 * - skipped domains byte-for-byte untouched (row digest before/after);
 * - the job's counters (bulk_job_chunk_counts) equal to its item rows by status;
 * - one results email and, when the gaining reseller has a notification address and something
 *   was pushed, one gaining notice per job: one outbox row each, sent, and (with `smtp`) received
 *   exactly once by Message-ID.
 */
export async function pushInvariantViolations(
  sys: TestSystem,
  run: RunUnderFault,
  opts: {
    smtp?: { messages: { messageId?: string }[] };
    /**
     * installRegistryLog ran: an unlock after the job ended (a zombie's late unlock) is a violation,
     * or (allowed: a process frozen between its fence and the registry call, the one window no
     * fence covers) only when no lock of that domain followed it.
     */
    lateUnlocks?: 'violation' | 'allowed';
    /** No worker died in the run: each domain unlocked at most once (two live attempts never both unlock). */
    unlockedOnce?: boolean;
  } = {},
): Promise<string[]> {
  const { db } = sys;
  const v: string[] = [];
  const jobIds = run.jobs.map((j) => j.id);
  const jobs: { id: string; status: string; total: number; error: string | null; finished_at: Date | null }[] = await db('bulk_jobs')
    .whereIn('id', jobIds)
    .select('id', 'status', 'total', 'error', 'finished_at');
  for (const id of jobIds) {
    const job = jobs.find((j) => j.id === id);
    if (!job) v.push(`job ${id} missing`);
    else if (job.status !== 'completed') v.push(`job ${id} ended ${job.status} (${job.error ?? ''})`);
  }

  const dupItems = await db('bulk_job_items')
    .whereIn('job_id', jobIds)
    .groupBy('job_id', 'domain_name')
    .havingRaw('count(*) > 1')
    .select('job_id', 'domain_name')
    .count('* as n');
  for (const d of dupItems) v.push(`job ${d.job_id}: ${d.n} items for ${d.domain_name}`);

  const items: {
    job_id: string;
    domain_name: string;
    status: string;
    reason: string | null;
    was_locked: boolean | null;
    relocked: boolean | null;
  }[] = await db('bulk_job_items').whereIn('job_id', jobIds).select('job_id', 'domain_name', 'status', 'reason', 'was_locked', 'relocked');
  const counters = await countItemsOf(db, jobIds);
  for (const job of jobs) {
    const own = items.filter((i) => i.job_id === job.id);
    if (own.length !== Number(job.total)) v.push(`job ${job.id}: ${own.length} item rows for a total of ${job.total}`);
    const open = own.filter((i) => i.status === 'pending' || i.status === 'running');
    if (open.length)
      v.push(
        `job ${job.id}: ${open.length} items still open (${open
          .slice(0, 3)
          .map((i) => `${i.domain_name} ${i.status}`)
          .join(', ')})`,
      );
    const byStatus: Record<string, number> = {};
    for (const i of own) byStatus[i.status] = (byStatus[i.status] ?? 0) + 1;
    const counted = counters.get(job.id) ?? {};
    for (const s of new Set([...Object.keys(byStatus), ...Object.keys(counted)])) {
      if ((byStatus[s] ?? 0) !== (counted[s] ?? 0))
        v.push(`job ${job.id}: counter ${s}=${counted[s] ?? 0} but ${byStatus[s] ?? 0} item rows`);
    }
  }

  const pushedBy = new Map<string, string[]>();
  for (const i of items.filter((x) => x.status === 'pushed'))
    pushedBy.set(i.domain_name, [...(pushedBy.get(i.domain_name) ?? []), i.job_id]);
  for (const [name, by] of pushedBy) if (by.length > 1) v.push(`${name} pushed by ${by.length} items`);
  for (const i of items.filter((x) => x.status === 'pushed')) {
    const job = run.jobs.find((j) => j.id === i.job_id);
    if (job && !job.applyToLocked && run.originallyLocked.has(i.domain_name))
      v.push(`${i.domain_name}: locked, pushed by job ${i.job_id} without apply_to_locked`);
  }

  const resellers = await db('resellers')
    .whereIn('username', [run.losing, run.gaining])
    .select('id', 'username', 'push_notification_email');
  const party = (u: string) => resellers.find((r) => r.username === u);
  const gainingId = Number(party(run.gaining)?.id);
  const losingId = Number(party(run.losing)?.id);
  const domains: { id: number; name: string; reseller_id: number; locked: boolean }[] = await db('domains')
    .whereIn('name', run.domains)
    .select('id', 'name', 'reseller_id', 'locked');
  if (domains.length !== run.domains.length) v.push(`${run.domains.length - domains.length} domains of the run are gone`);
  for (const d of domains) {
    const pushed = pushedBy.has(d.name);
    const owner = Number(d.reseller_id);
    if (pushed && owner !== gainingId) v.push(`${d.name}: pushed but owned by reseller ${owner}, not the gaining one`);
    if (!pushed && owner === gainingId) v.push(`${d.name}: owned by the gaining reseller without a pushed item`);
    if (owner !== gainingId && owner !== losingId) v.push(`${d.name}: owned by neither party (${owner})`);
  }
  const unlocked = domains.filter((d) => run.originallyLocked.has(d.name) && !d.locked);
  if (unlocked.length) {
    const how = unlocked.slice(0, 3).map((d) => {
      const i = items.find((x) => x.domain_name === d.name);
      return i ? `${d.name} (item ${i.status}, was_locked=${i.was_locked}, relocked=${i.relocked})` : d.name;
    });
    v.push(`${unlocked.length} originally locked domains left unlocked: ${how.join(', ')}${unlocked.length > 3 ? ', …' : ''}`);
  }

  const byId = new Map(domains.map((d) => [Number(d.id), d.name]));
  const billing: { domain_id: number; job_id: string | null; kind: string }[] = byId.size
    ? await db('billing_events')
        .whereIn('domain_id', [...byId.keys()])
        .select('domain_id', 'job_id', 'kind')
    : [];
  const billed = new Map<string, number>();
  for (const b of billing) {
    const name = byId.get(Number(b.domain_id))!;
    billed.set(`${name}:${b.kind}`, (billed.get(`${name}:${b.kind}`) ?? 0) + 1);
    if (!b.job_id || !pushedBy.get(name)?.includes(b.job_id))
      v.push(`${name}: ${b.kind} billed for job ${b.job_id} without a pushed item of it`);
  }
  for (const name of pushedBy.keys()) {
    for (const kind of ['push_in', 'push_out']) {
      const n = billed.get(`${name}:${kind}`) ?? 0;
      if (n !== 1) v.push(`${name}: ${n} ${kind} billing events (want 1)`);
    }
  }

  const skipped = [...new Set(items.filter((i) => i.status === 'skipped').map((i) => i.domain_name))].filter((n) => !pushedBy.has(n));
  const after = await rowDigests(db, skipped);
  const touched = skipped.filter((n) => run.digests.get(n) !== after.get(n));
  if (touched.length) v.push(`${touched.length} skipped domains changed: ${touched.slice(0, 3).join(', ')}`);

  if (opts.lateUnlocks) {
    const { rows } = await db.raw(
      `select l.name, j.id as job_id, l.at, j.finished_at from h_registry_log l
       join bulk_job_items i on i.domain_name = l.name and i.job_id = any(?::uuid[])
       join bulk_jobs j on j.id = i.job_id
       where not l.locked and j.finished_at is not null and l.at > j.finished_at
         and (? or not exists (select 1 from h_registry_log k where k.name = l.name and k.locked and k.id > l.id))`,
      [jobIds, opts.lateUnlocks === 'violation'],
    );
    if (rows.length) {
      v.push(
        `${rows.length} registry unlocks after the job ended (a zombie's late unlock applied): ${rows
          .slice(0, 3)
          .map((r: { name: string }) => r.name)
          .join(', ')}`,
      );
    }
  }

  // The registry-path ledger (registry_unlocked, where the schema has it) agrees: nothing of the run left open.
  const ledger = await db.raw(`select to_regclass('registry_unlocked') is not null as present`);
  if (ledger.rows[0].present) {
    const { rows } = await db.raw('select domain_name from registry_unlocked where domain_name = any(?::text[])', [run.domains]);
    if (rows.length)
      v.push(
        `${rows.length} domains the unlock ledger still shows unlocked: ${rows
          .slice(0, 3)
          .map((r: { domain_name: string }) => r.domain_name)
          .join(', ')}`,
      );
  }

  if (opts.unlockedOnce) {
    const { rows } = await db.raw(
      `select name, count(*)::int as n from h_registry_log where not locked and name = any(?::text[]) group by name having count(*) > 1`,
      [run.domains],
    );
    if (rows.length) {
      v.push(
        `${rows.length} domains unlocked more than once with no worker dead (two live attempts unlocked them): ${rows
          .slice(0, 3)
          .map((r: { name: string; n: number }) => `${r.name} ×${r.n}`)
          .join(', ')}`,
      );
    }
  }

  const gainingNotice = !!party(run.gaining)?.push_notification_email;
  for (const id of jobIds) {
    const keys = [`results:${id}`];
    if (gainingNotice && items.some((i) => i.job_id === id && i.status === 'pushed')) keys.push(`gaining:${id}`);
    for (const key of keys) {
      const rows = await db('outbound_emails').where({ dedupe_key: key }).select('sent_at', 'ambiguous_sends');
      if (rows.length !== 1) v.push(`${key}: ${rows.length} outbox rows (want 1)`);
      else if (!rows[0].sent_at) v.push(`${key}: not sent`);
      if (opts.smtp && rows.length === 1) {
        // An SMTP client cannot know whether a message whose "250" never came back arrived: the
        // outbox records each such send and repeats it at most once more, same Message-ID (see
        // docs/faults.md). So one copy, plus one per recorded ambiguous send; any other repeat is a bug.
        const want = messageIdOf(key);
        const got = opts.smtp.messages.filter((m) => (m.messageId ?? '').replace(/^<|>$/g, '') === want).length;
        const allowed = 1 + Number(rows[0].ambiguous_sends ?? 0);
        if (got < 1 || got > allowed)
          v.push(
            `${key}: received ${got} times by the SMTP peer (Message-ID <${want}>; want 1, or up to ${allowed} after ${allowed - 1} send(s) with no reply after their data)`,
          );
      }
    }
  }
  return v;
}

/**
 * Waits until the run's jobs have ended and their emails left the outbox (sent_at set; with
 * `smtp`, received), without judging: the invariants do that. A job that never ends times out
 * with its counts in the message.
 */
export async function waitForRunEnd(
  sys: TestSystem,
  run: RunUnderFault,
  opts: { timeoutMs?: number; smtp?: { messages: { messageId?: string }[] } } = {},
) {
  const jobIds = run.jobs.map((j) => j.id);
  let last = '';
  await waitUntil(
    async () => {
      const rows = await sys
        .db('bulk_jobs')
        .whereIn('id', jobIds)
        .select('id', 'status')
        .catch(() => null);
      last = JSON.stringify(rows);
      return rows && rows.length === jobIds.length && rows.every((r) => ['completed', 'cancelled', 'failed'].includes(r.status));
    },
    { timeout: opts.timeoutMs ?? 90_000, interval: 50, label: () => `${run.label}: every job to end (${last})` },
  );
  await waitUntil(
    async () => {
      const unsent = await sys
        .db('outbound_emails')
        .whereIn(
          'dedupe_key',
          jobIds.flatMap((id) => [`results:${id}`, `gaining:${id}`]),
        )
        .whereNull('sent_at')
        .count('* as n')
        .first()
        .catch(() => null);
      if (!unsent || Number(unsent.n) > 0) return false;
      if (!opts.smtp) return true;
      const want = jobIds.map((id) => messageIdOf(`results:${id}`));
      return want.every((w) => opts.smtp!.messages.some((m) => (m.messageId ?? '').replace(/^<|>$/g, '') === w));
    },
    { timeout: opts.timeoutMs ?? 90_000, interval: 50, label: `${run.label}: the emails to go out` },
  );
}

/**
 * From the registry-call log: the longest a domain of `domains` stayed unlocked (an unlock to the
 * next lock of the same domain; still unlocked counts until now), in ms. A figure, not a verdict.
 */
export async function longestUnlockedMs(sys: TestSystem, domains: string[]): Promise<number> {
  const { rows } = await sys.db.raw(
    `select coalesce(max(extract(epoch from (coalesce(lk.at, clock_timestamp()) - u.at)) * 1000), 0)::int as ms
     from h_registry_log u
     left join lateral (select at from h_registry_log k where k.name = u.name and k.locked and k.id > u.id order by k.id limit 1) lk on true
     where not u.locked and u.name = any(?::text[])`,
    [domains],
  );
  return Number(rows[0].ms);
}

/** Registry unlocks of the jobs' domains after their job ended (a zombie's late unlock): a figure for the run's notes. */
export async function lateUnlockCount(sys: TestSystem, jobIds: string[]): Promise<number> {
  const { rows } = await sys.db.raw(
    `select count(*)::int as n from h_registry_log l
     join bulk_job_items i on i.domain_name = l.name and i.job_id = any(?::uuid[])
     join bulk_jobs j on j.id = i.job_id
     where not l.locked and j.finished_at is not null and l.at > j.finished_at`,
    [jobIds],
  );
  return Number(rows[0].n);
}
