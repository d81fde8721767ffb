import { expect } from 'chai';
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
