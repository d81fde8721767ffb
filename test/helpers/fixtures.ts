import { expect } from 'chai';
import { OPERATOR_KEY, type TestSystem } from './system';
import { waitUntil } from './wait';

/**
 * The JSON the API answers with, typed as far as the tests read it. The index signature keeps
 * every other field reachable (as unknown) without reaching for `any`.
 */
export interface JobView {
  id: string;
  kind: string;
  status: string;
  total: number;
  counts: Record<string, number>;
  rate: number | null;
  eta_seconds: number | null;
  [field: string]: unknown;
}

export interface ItemView {
  domain: string;
  status: string;
  reason: string | null;
  message: string | null;
  was_locked: boolean;
  relocked: boolean;
  finished_at: string | null;
  [field: string]: unknown;
}

/** A domain as GET /v1/domains and /v1/domains/:name show it. */
export interface DomainView {
  name: string;
  locked: boolean;
  profile: { id: string; username: string };
  brand: { id: string; name: string | null; editable: boolean };
  [field: string]: unknown;
}

export interface BrandView {
  id: string;
  name: string | null;
  editable: boolean;
  [field: string]: unknown;
}

/** Any other JSON object, which the tests only compare field by field. */
export type JsonObject = Record<string, unknown>;

/** The body of a JSON response, as the shape the test reads it in. */
export function bodyOf<T>(res: { body: unknown }): T {
  return res.body as T;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface TestReseller {
  username: string;
  company_id: string;
  key: string;
  id: number;
}

export async function makeReseller(
  sys: TestSystem,
  username: string,
  opts: { push?: boolean; anchor?: number } = {},
): Promise<TestReseller> {
  const res = await sys
    .http()
    .post('/v1/admin/resellers')
    .set('Authorization', `Bearer ${OPERATOR_KEY}`)
    .send({
      username,
      name: `${username} Ltd`,
      email: `ops@${username}.example`,
      ...(opts.anchor ? { billing_anchor_day: opts.anchor } : {}),
    });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  if (opts.push !== false) {
    const p = await sys
      .http()
      .patch(`/v1/admin/resellers/${username}`)
      .set('Authorization', `Bearer ${OPERATOR_KEY}`)
      .send({ domain_push_enabled: true });
    expect(p.status).to.equal(200);
  }
  const row = await sys.db('resellers').where({ username }).first('id');
  return { username, company_id: res.body.company_id, key: res.body.api_key, id: Number(row.id) };
}

/** The gaining side adds the losing side's company_id to its allowed resellers. */
export async function authorize(sys: TestSystem, gaining: TestReseller, losing: TestReseller) {
  const res = await sys
    .http()
    .post('/v1/push-settings/allowed-resellers')
    .set('Authorization', `Bearer ${gaining.key}`)
    .send({ reseller: losing.company_id });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
}

export async function importDomains(sys: TestSystem, rows: Record<string, unknown>[]) {
  const res = await sys.http().post('/v1/admin/domains/import').set('Authorization', `Bearer ${OPERATOR_KEY}`).send(rows);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body;
}

export function names(prefix: string, n: number, tld = 'example'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}.${tld}`);
}

export function submit(sys: TestSystem, who: TestReseller, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const req = sys.http().post('/v1/bulk-pushes').set('Authorization', `Bearer ${who.key}`);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body);
}

export async function waitForJob(
  sys: TestSystem,
  who: TestReseller,
  id: string,
  statuses = ['completed', 'cancelled', 'failed'],
  timeoutMs = 30_000,
) {
  let last: Partial<JobView> = {};
  return waitUntil(
    async () => {
      const res = await sys.http().get(`/v1/jobs/${id}`).set('Authorization', `Bearer ${who.key}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      last = res.body;
      return statuses.includes(res.body.status) ? (res.body as JobView) : null;
    },
    { timeout: timeoutMs, interval: 50, label: () => `job ${id} to end (still ${last.status}: ${JSON.stringify(last.counts)})` },
  );
}

export async function allItems(sys: TestSystem, who: TestReseller, id: string): Promise<ItemView[]> {
  const out: ItemView[] = [];
  let cursor: string | null = null;
  do {
    const res = await sys
      .http()
      .get(`/v1/jobs/${id}/items`)
      .query({ limit: 1000, ...(cursor ? { cursor } : {}) })
      .set('Authorization', `Bearer ${who.key}`);
    expect(res.status).to.equal(200);
    const page = res.body as Page<ItemView>;
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** Row counts of every table that a refused request must leave alone. */
export async function snapshot(sys: TestSystem) {
  const tables = ['bulk_jobs', 'bulk_job_items', 'bulk_job_chunks', 'domains', 'outbound_emails', 'billing_events', 'profiles', 'brands'];
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = Number((await sys.db(t).count('* as n').first())!.n);
  out.domainState = await sys.db('domains').orderBy('id').select('name', 'reseller_id', 'locked', 'profile_id', 'brand_id');
  const queued = await sys.rt.deps.queues.bulk.getJobCounts();
  out.queue = queued;
  return out;
}

let finishedCounter = 0;

/**
 * A job that has ended, arranged by the test that needs one (so it passes alone): imports `n`
 * fresh domains of `losing`, pushes them to `gaining` and waits for the end. With `cancel` the job
 * is cancelled right after it is accepted and ends `cancelled`; give it locked domains on a slow
 * registry so the cancel lands before the last item.
 */
export async function finishedJob(
  sys: TestSystem,
  losing: TestReseller,
  gaining: string,
  opts: { n?: number; locked?: boolean; cancel?: boolean; prefix?: string } = {},
): Promise<JobView> {
  const domains = names(opts.prefix ?? `finished-${++finishedCounter}`, opts.n ?? 1);
  await importDomains(
    sys,
    domains.map((name) => ({ name, reseller: losing.username, locked: opts.locked ?? false })),
  );
  const res = await submit(sys, losing, { gaining_reseller: gaining, domains, apply_to_locked: opts.locked ?? false });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  if (opts.cancel) {
    const c = await sys.http().post(`/v1/jobs/${res.body.id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(c.status, JSON.stringify(c.body)).to.equal(202);
  }
  const job = await waitForJob(sys, losing, res.body.id);
  expect(job.status).to.equal(opts.cancel ? 'cancelled' : 'completed');
  return job;
}

/**
 * Runs `arrange` the first time it is asked for and hands every later caller the same result: data
 * that several tests read, arranged by whichever of them runs first, so each still passes alone.
 */
export function shared<T>(arrange: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= arrange();
    return made;
  };
}
