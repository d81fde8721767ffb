import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { authorize, makeReseller, names, submit } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { processChunk } from '../../shared/bulk/process';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Parent Relationship'?: string;
  'CTE Name'?: string;
  Plans?: PlanNode[];
}

function seqScans(node: PlanNode, out: string[] = []): string[] {
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) out.push(node['Relation Name']);
  for (const child of node.Plans ?? []) seqScans(child, out);
  return out;
}

/**
 * Nested loops that read a whole CTE again for each outer row: 1,000 × 1,000 comparisons a chunk
 * once the planner guesses one outer row where there are 1,000 (its guess for 1,000 ids out of
 * millions of domains), which made a chunk 6x slower on a platform of 5,000,000 domains.
 */
function cteRescans(node: PlanNode, out: string[] = []): string[] {
  const inner = node.Plans?.find((c) => c['Parent Relationship'] === 'Inner');
  if (node['Node Type'] === 'Nested Loop' && inner?.['Node Type'] === 'CTE Scan') out.push(`${inner['CTE Name']} rescanned per row`);
  for (const child of node.Plans ?? []) cteRescans(child, out);
  return out;
}

/** The tables that grow with the platform: a chunk must read only the rows it names in them. */
const BIG = ['domains', 'profiles', 'bulk_job_items', 'billing_events'];

/**
 * A chunk joins arrays of 1,000 keys to the platform's biggest tables. Left to guess, the planner
 * hashed a scan of the whole table instead of probing its index (a cost that grows with the
 * platform: 3x a chunk's write at 100,000 domains). With the tables much bigger than a chunk and
 * fresh statistics, every statement a chunk runs is explained again and must not scan them.
 */
describe('chunk statements probe indexes, however big the tables', function () {
  this.timeout(120_000);
  let sys: TestSystem;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 1000 } });
  });
  after(() => sys?.stop());

  it('no statement of a chunk (new profiles, locked and unlocked domains) scans a big table or rescans a CTE per row', async () => {
    const losing = await makeReseller(sys, 'plan-losing');
    const gaining = await makeReseller(sys, 'plan-gaining');
    const bystander = await makeReseller(sys, 'plan-bystander');
    await authorize(sys, gaining, losing);
    // The platform around the push: 100,000 other domains and their finished items, 10,000
    // profiles on the gaining side, 20,000 billing events.
    await sys.db.raw(
      `insert into domains (name, reseller_id) select 'plan-other-' || g || '.example', ? from generate_series(1, 100000) g`,
      [bystander.id],
    );
    const [earlier] = await sys
      .db('bulk_jobs')
      .insert({
        id: crypto.randomUUID(),
        kind: 'push',
        status: 'completed',
        losing_reseller_id: bystander.id,
        gaining_reseller_id: losing.id,
        options: '{}',
        total: 100_000,
        chunk_count: 100,
      })
      .returning('id');
    await sys.db.raw(
      `insert into bulk_job_items (job_id, chunk, domain_name, status)
       select ?, g / 1000, 'plan-other-' || g || '.example', 'pushed' from generate_series(0, 99999) g`,
      [earlier.id],
    );
    await sys.db.raw(
      `insert into billing_events (reseller_id, domain_id, kind, effective_from) select ?, g, 'push_in', now() from generate_series(1, 20000) g`,
      [bystander.id],
    );
    await sys.db.raw(
      `insert into profiles (reseller_id, domain, username) select ?, 'plan-gp-' || g || '.example', 'plan-gp-' || g from generate_series(1, 10000) g`,
      [gaining.id],
    );
    // The pushed domains, a tenth locked, each with its own registrant profile (in SQL: the API's
    // import hashes every password, 1,000 of them a slow arrangement).
    const domains = names('plan', 1000);
    await sys.db.raw(
      `with p as (
         insert into profiles (reseller_id, domain, username, contact)
         select ?, n, 'plan-owner-' || i, '{"email": "owner@example.org"}' from unnest(?::text[]) with ordinality as u(n, i)
         returning id, domain)
       insert into domains (name, reseller_id, profile_id, locked)
       select p.domain, ?, p.id, (row_number() over (order by p.domain)) % 10 = 1 from p`,
      [losing.id, domains, losing.id],
    );
    await sys.db.raw('analyze');
    const res = await submit(sys, losing, {
      gaining_reseller: gaining.username,
      domains,
      profile: { mode: 'new' },
      apply_to_locked: true,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);

    const statements: { sql: string; bindings: unknown[] }[] = [];
    const capture = (q: { sql: string; bindings?: unknown[] }) => statements.push({ sql: q.sql, bindings: q.bindings ?? [] });
    sys.db.on('query', capture);
    try {
      await processChunk(sys.rt.deps, res.body.id, 0);
    } finally {
      sys.db.off('query', capture);
    }
    const pushed = await sys.db('domains').whereIn('name', domains).where({ reseller_id: gaining.id }).count('* as n').first();
    expect(Number(pushed?.n)).to.equal(1000);
    // The registry path ran too: the locked tenth went through unlock, push and relock.
    const relocked = await sys
      .db('bulk_job_items')
      .where({ job_id: res.body.id, was_locked: true, relocked: true })
      .count('* as n')
      .first();
    expect(Number(relocked?.n)).to.equal(100);

    const chunkStatements = statements.filter((s) => /^\s*(with|update|insert|delete|select)\b/i.test(s.sql) && !/pg_advisory/.test(s.sql));
    expect(chunkStatements.length).to.be.greaterThan(10);
    const scans: string[] = [];
    const conn = await (sys.db.client as Knex.Client).acquireConnection();
    try {
      for (const s of chunkStatements) {
        // Raw statements come with knex's `?` placeholders; the driver takes `$1…`.
        let n = 0;
        const text = s.sql.replace(/\?/g, () => `$${++n}`);
        const out = await conn.query(`explain (format json) ${text}`, s.bindings);
        const plan = out.rows[0]['QUERY PLAN'][0].Plan as PlanNode;
        const where = s.sql.replace(/\s+/g, ' ').slice(0, 120);
        for (const rel of seqScans(plan)) if (BIG.includes(rel)) scans.push(`${rel}: ${where}`);
        for (const rescan of cteRescans(plan)) scans.push(`${rescan}: ${where}`);
      }
    } finally {
      await (sys.db.client as Knex.Client).releaseConnection(conn);
    }
    expect(scans).to.deep.equal([]);
  });
});
