import { expect } from 'chai';
import { OPERATOR_KEY, type TestSystem } from './system';

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
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await sys.http().get(`/v1/jobs/${id}`).set('Authorization', `Bearer ${who.key}`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    if (statuses.includes(res.body.status)) return res.body;
    if (Date.now() > until) throw new Error(`job ${id} still ${res.body.status} after ${timeoutMs}ms: ${JSON.stringify(res.body.counts)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function allItems(sys: TestSystem, who: TestReseller, id: string) {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const res: any = await sys
      .http()
      .get(`/v1/jobs/${id}/items`)
      .query({ limit: 1000, ...(cursor ? { cursor } : {}) })
      .set('Authorization', `Bearer ${who.key}`);
    expect(res.status).to.equal(200);
    out.push(...res.body.items);
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

/** Row counts of every table that a refused request must leave alone. */
export async function snapshot(sys: TestSystem) {
  const tables = ['bulk_jobs', 'bulk_job_items', 'domains', 'outbound_emails', 'billing_events', 'profiles', 'brands'];
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = Number((await sys.db(t).count('* as n').first())!.n);
  out.domainState = await sys.db('domains').orderBy('id').select('name', 'reseller_id', 'locked', 'profile_id', 'brand_id');
  const queued = await sys.rt.deps.queues.bulk.getJobCounts();
  out.queue = queued;
  return out;
}
