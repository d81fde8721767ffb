import { expect } from 'chai';
import { jobItems } from '../../../shared/bulk/unstarted';
import { authorize, importDomains, makeReseller, names, submit, type TestReseller } from '../../helpers/fixtures';
import { waitUntil } from '../../helpers/resilience';
import type { TestSystem } from '../../helpers/system';
import { nonJsonLines, type FaultSystem } from './system';

export async function parties(sys: TestSystem) {
  const losing = await makeReseller(sys, 'losing');
  const gaining = await makeReseller(sys, 'gaining');
  await authorize(sys, gaining, losing);
  return { losing, gaining };
}

/** `n` domains of the losing reseller, every third one locked. */
export async function lockedDomains(sys: TestSystem, prefix: string, n: number) {
  const domains = names(prefix, n);
  const locked = new Set(domains.filter((_, i) => i % 3 === 0));
  await importDomains(
    sys,
    domains.map((name) => ({ name, reseller: 'losing', locked: locked.has(name) })),
  );
  return { domains, locked };
}

export async function submitPush(sys: TestSystem, losing: TestReseller, domains: string[], applyToLocked: boolean): Promise<string> {
  const res = await submit(sys, losing, {
    gaining_reseller: 'gaining',
    domains,
    apply_to_locked: applyToLocked,
    profile: { mode: 'new' },
    email_results_to: 'ops@losing.example',
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return res.body.id as string;
}

/** Counts by item status, straight from Postgres; null while the database does not answer. */
export async function counts(sys: TestSystem, jobId: string): Promise<Record<string, number> | null> {
  try {
    // Started or not: a chunk nothing has happened to yet is one row of names (shared/bulk/unstarted.ts).
    const rows: { status: string; n: number | string }[] = await sys.db
      .from(jobItems(sys.db, jobId).as('i'))
      .groupBy('status')
      .select('status')
      .count('* as n');
    const out: Record<string, number> = { pending: 0, running: 0, pushed: 0, skipped: 0, failed: 0, cancelled: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  } catch {
    return null;
  }
}

/** Waits until the job is mid-way on the registry path: some domains pushed, some unlocked in hand. */
export async function midRegistryPath(sys: TestSystem, jobId: string, minPushed: number) {
  await waitUntil(
    'the job to be mid-way on the registry path',
    async () => {
      const c = await counts(sys, jobId);
      return c && c.pushed >= minPushed && c.running > 0;
    },
    120_000,
    5,
  );
}

/** Every line every worker printed is a JSON object (pino), outages included. */
export function expectJsonLogs(sys: FaultSystem) {
  for (const w of sys.workers) expect(nonJsonLines(w).slice(0, 10), `non-JSON lines of worker ${w.child.pid}`).to.deep.equal([]);
}

/** When the system answers again: the time from `since` until `ready()` first holds. */
export async function timeToRecover(since: number, ready: () => Promise<boolean>): Promise<number> {
  await waitUntil('recovery', () => ready().catch(() => false), 180_000, 50);
  return Date.now() - since;
}

export function dumpWorkers(sys: FaultSystem) {
  for (const w of sys.workers) console.error(`--- worker ${w.child.pid} ---\n${w.lines.slice(-60).join('\n')}`);
}

/**
 * Time to recover: from the moment the failed server is back until the job moves again (more
 * domains pushed than when it came back, or the job ended). Printed, for the README's figures.
 */
export async function measureRecovery(sys: TestSystem, label: string, jobId: string, backAt: number) {
  let base: number | null = null;
  await waitUntil(
    `${label}: the job to move again`,
    async () => {
      const c = await counts(sys, jobId);
      if (!c) return false;
      if (base === null) base = c.pushed;
      const job = await sys.db('bulk_jobs').where({ id: jobId }).first('status');
      return c.pushed > base || ['completed', 'cancelled', 'failed'].includes(job.status);
    },
    180_000,
    50,
  );
  const ms = Date.now() - backAt;
  console.log(`      [recovery] ${label}: the job moved again ${(ms / 1000).toFixed(1)} s after the server was back`);
  return ms;
}

/** How long after the server was back the job ended (its finished_at, Postgres on this machine). */
export async function reportEnd(sys: TestSystem, label: string, jobId: string, backAt: number) {
  const job = await sys.db('bulk_jobs').where({ id: jobId }).first('finished_at');
  const ms = new Date(job.finished_at).getTime() - backAt;
  console.log(`      [recovery] ${label}: the job ended ${(ms / 1000).toFixed(1)} s after the server was back`);
}
