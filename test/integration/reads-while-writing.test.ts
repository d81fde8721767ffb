import { expect } from 'chai';
import type { Knex } from 'knex';
import { authorize, importDomains, makeReseller, names, submit, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import type { ItemRow } from '../../shared/bulk/model';
import { endUnstarted, jobItems, startChunk } from '../../shared/bulk/unstarted';

/**
 * What a person watching a push reads (issue 20 part 4): the job view, its items page and their
 * domains. Each must answer while workers hold the rows it reads, read only the rows it shows, and
 * list exactly what the slower full reading would.
 */
describe('reads while a push writes', () => {
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 3 } });
    losing = await makeReseller(sys, 'rww-losing');
    gaining = await makeReseller(sys, 'rww-gaining');
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  const get = (url: string, query: Record<string, string | number> = {}, who: TestReseller = losing) =>
    sys.http().get(url).query(query).set('Authorization', `Bearer ${who.key}`);

  async function submitted(prefix: string, n: number, who: TestReseller = losing) {
    const domains = names(prefix, n);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: who.username })),
    );
    const res = await submit(sys, who, { gaining_reseller: 'rww-gaining', domains });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return { id: res.body.id as string, domains };
  }

  /** Runs `request` and explains (analyze) every statement it sent that `which` picks. */
  async function explained(request: () => PromiseLike<{ status: number }>, which: (sql: string) => boolean) {
    const statements: { sql: string; bindings: unknown[] }[] = [];
    const capture = (q: { sql: string; bindings: unknown[] }) => {
      if (which(q.sql)) statements.push({ sql: q.sql, bindings: q.bindings });
    };
    sys.db.on('query', capture);
    try {
      expect((await request()).status).to.equal(200);
    } finally {
      sys.db.off('query', capture);
    }
    expect(statements.length).to.be.greaterThan(0);
    const conn = await (sys.db.client as Knex.Client).acquireConnection();
    try {
      const plans: { sql: string; plan: PlanNode }[] = [];
      for (const s of statements) {
        let n = 0;
        const text = /\$\d/.test(s.sql) ? s.sql : s.sql.replace(/\?/g, () => `$${++n}`);
        const out = await conn.query(`explain (analyze, format json) ${text}`, s.bindings);
        plans.push({ sql: text.replace(/\s+/g, ' ').slice(0, 200), plan: out.rows[0]['QUERY PLAN'][0].Plan });
      }
      return plans;
    } finally {
      await (sys.db.client as Knex.Client).releaseConnection(conn);
    }
  }

  /**
   * Rows the plan's scans matching `scan` read, per statement of one page of the job's items that
   * names `table`, with the statement.
   */
  async function pageReads(
    jobId: string,
    query: Record<string, string | number>,
    who: TestReseller,
    table: string,
    scan: (n: PlanNode) => boolean,
  ) {
    const plans = await explained(
      () => get(`/v1/jobs/${jobId}/items`, query, who),
      (sql) => sql.includes(table),
    );
    return plans.map(({ sql, plan }) => ({ sql, read: rowsRead(plan, scan) }));
  }

  /** Resolves with the answer, or with 'waited' when it takes longer than `ms`. */
  function within<T>(ms: number, p: PromiseLike<T>): Promise<T | 'waited'> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      Promise.resolve(p),
      new Promise<'waited'>((r) => {
        timer = setTimeout(() => r('waited'), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  it('the job view, items page and job list answer while a worker holds the job row and every counter row', async () => {
    const { id } = await submitted('rww-lock', 7);
    const trx = await sys.db.transaction();
    try {
      // What a take and a cancel hold at once: the job row, each chunk's counter row (locked and
      // changed, uncommitted) and a chunk turned into item rows.
      await trx('bulk_jobs').where({ id }).forUpdate().first('id');
      await trx('bulk_job_chunk_counts').where({ job_id: id }).forUpdate().select('chunk');
      await startChunk(trx, id, 0, { status: 'cancelled', reason: 'cancelled', message: 'held' });
      // Well under the pool's idle-in-transaction timeout (5 s), which would end the holder and
      // let a waiting read through.
      const view = await within(2500, get(`/v1/jobs/${id}`));
      const items = await within(2500, get(`/v1/jobs/${id}/items`));
      const list = await within(2500, get('/v1/jobs', { limit: 5 }));
      expect(view, 'the job view waited on the held rows').to.not.equal('waited');
      expect(items, 'the items page waited on the held rows').to.not.equal('waited');
      expect(list, 'the job list waited on the held rows').to.not.equal('waited');
      if (view === 'waited' || items === 'waited' || list === 'waited') return;
      expect(view.status).to.equal(200);
      // The last committed state: nothing of the holder's uncommitted work shows.
      expect(view.body.counts.pending).to.equal(7);
      expect(view.body.counts.cancelled).to.equal(0);
      expect(view.body.done_status).to.equal('pushed');
      expect(view.body.labels).to.be.an('object');
      expect(items.status).to.equal(200);
      expect(items.body.items.map((i: { status: string }) => i.status)).to.deep.equal(Array(7).fill('pending'));
      expect(list.status).to.equal(200);
    } finally {
      await trx.rollback();
    }
  });

  it('the items page merges item rows and unstarted chunks in id order, with every filter and cursor, as jobItems lists them', async () => {
    const { id, domains } = await submitted('rww-page', 14);
    // Chunks 1 and 3 become item rows (one of them ended), chunks 0, 2 and 4 stay unstarted.
    await sys.db.transaction((trx) => startChunk(trx, id, 1));
    await sys.db.transaction((trx) => startChunk(trx, id, 3, { status: 'cancelled', reason: 'cancelled', message: 'test' }));
    expect(await sys.db('bulk_job_chunks').where({ job_id: id }).orderBy('chunk').pluck('chunk')).to.deep.equal([0, 2, 4]);

    const filters: Record<string, string>[] = [
      {},
      { status: 'pending' },
      { status: 'cancelled' },
      { reason: 'cancelled' },
      { q: '0001' },
      { q: 'rww-page-0000' },
    ];
    for (const filter of filters) {
      const expected = ((await jobItems(sys.db, id).orderBy('id')) as ItemRow[])
        .filter((r) => !filter.status || r.status === filter.status)
        .filter((r) => !filter.reason || r.reason === filter.reason)
        .filter((r) => !filter.q || r.domain_name.includes(filter.q))
        .map((r) => [r.domain_name, r.status]);
      for (const limit of [1, 2, 4, 100]) {
        const seen: [string, string][] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 30; page++) {
          const res = await get(`/v1/jobs/${id}/items`, { ...filter, limit, ...(cursor ? { cursor } : {}) });
          expect(res.status, JSON.stringify(res.body)).to.equal(200);
          expect(res.body.items.length).to.be.at.most(limit);
          seen.push(...res.body.items.map((i: { domain: string; status: string }) => [i.domain, i.status] as [string, string]));
          cursor = res.body.next_cursor ?? undefined;
          if (!cursor) break;
        }
        expect(seen, `${JSON.stringify(filter)} limit ${limit}`).to.deep.equal(expected);
      }
    }
    // Unfiltered, that is every item in submission order; the CSV export reads the same pages.
    expect(((await jobItems(sys.db, id).orderBy('id')) as ItemRow[]).map((r) => r.domain_name)).to.deep.equal(domains);
    const csv = await get(`/v1/jobs/${id}/items`, { format: 'csv' }).buffer(true);
    expect(csv.status).to.equal(200);
    const lines = csv.text.trim().split(/\r?\n/);
    expect(lines.slice(1).map((l) => l.split(',')[0])).to.deep.equal(domains);
  });

  it('a page of items unnests only the unstarted chunks it shows, not every unstarted item of the job', async () => {
    const { id } = await submitted('rww-cost', 30);
    const queries: Record<string, string | number>[] = [{ limit: 2 }, { limit: 4, status: 'pending' }];
    for (const query of queries) {
      const plans = await explained(
        () => get(`/v1/jobs/${id}/items`, query),
        (sql) => /bulk_job_chunks/.test(sql),
      );
      for (const { sql, plan } of plans) {
        // Ten chunks of three: the page needs the first two (and a look at the third), never all thirty items.
        const unnested = rowsRead(plan, (n) => n['Node Type'] === 'Function Scan');
        expect(unnested, `${JSON.stringify(query)}: ${sql}`).to.be.at.most(10);
      }
    }
  });

  it("a page of items reads only the item rows it shows, however stale the statistics and whoever's items come first", async () => {
    // An older job's 3,000 item rows, analyzed; then the watched job's 3,000, newer than the
    // statistics (as a pushing job's items always are). Then analyzed too: the older job's items
    // now come first by id, so a walk of the primary key in id order would read them all.
    // Its own reseller: the domains test below needs the caller to own few of the platform's domains.
    const owner = await makeReseller(sys, 'rww-stale');
    await authorize(sys, gaining, owner);
    const ended = { status: 'cancelled', reason: 'cancelled', message: 'test' };
    const older = await submitted('rww-older', 3000, owner);
    await endUnstarted(sys.db, older.id, ended);
    await sys.db.raw('analyze bulk_job_items');
    const watched = await submitted('rww-watched', 3000, owner);
    await endUnstarted(sys.db, watched.id, ended);
    const second = (await get(`/v1/jobs/${watched.id}/items`, { limit: 10 }, owner)).body.next_cursor as string;
    expect(second).to.be.a('string');

    for (const stats of ['stale statistics', 'fresh statistics']) {
      if (stats === 'fresh statistics') await sys.db.raw('analyze bulk_job_items');
      const queries: Record<string, string | number>[] = [{ limit: 10 }, { limit: 10, cursor: second }, { limit: 10, status: 'cancelled' }];
      for (const query of queries) {
        const reads = await pageReads(watched.id, query, owner, 'bulk_job_items', (n) => n['Relation Name'] === 'bulk_job_items');
        for (const { sql, read } of reads) expect(read, `${stats}, ${JSON.stringify(query)}: ${sql}`).to.be.at.most(11);
      }
    }

    // A job still waiting to start: 1,000 unstarted chunks of three, which the chunks table's
    // statistics do not know of (analyzed when it held at most a few). A page unnests the few
    // chunks it shows, not all 3,000 items.
    await sys.db.raw('analyze bulk_job_chunks');
    const pending = await submitted('rww-pending', 3000, owner);
    const next = (await get(`/v1/jobs/${pending.id}/items`, { limit: 10 }, owner)).body.next_cursor as string;
    const queries: Record<string, string | number>[] = [{ limit: 10 }, { limit: 10, cursor: next }, { limit: 10, status: 'pending' }];
    for (const query of queries) {
      const reads = await pageReads(pending.id, query, owner, 'bulk_job_chunks', (n) => n['Node Type'] === 'Function Scan');
      for (const { sql, read } of reads) expect(read, `pending, ${JSON.stringify(query)}: ${sql}`).to.be.at.most(30);
    }
  });

  it("GET /v1/domains reads only the caller's rows, even when the platform's other domains come first by id", async () => {
    // 20,000 other domains first (lower ids), then 3,000 of the caller's: the page and the total
    // must not walk the others, with or without a filter.
    const other = await makeReseller(sys, 'rww-other');
    await sys.db.raw(
      `insert into domains (name, reseller_id, locked) select 'rww-other-' || g || '.example', ?, g % 2 = 0 from generate_series(1, 20000) g`,
      [other.id],
    );
    // Enough of the caller's own that the planner expects a page early in any id order.
    await sys.db.raw(
      `insert into domains (name, reseller_id, locked) select 'rww-mine-' || g || '.example', ?, g % 3 = 0 from generate_series(1, 3000) g`,
      [losing.id],
    );
    await sys.db.raw('analyze domains');
    const owned = Number((await sys.db('domains').where({ reseller_id: losing.id }).count('* as n').first())?.n);

    const queries: Record<string, string | number>[] = [
      { limit: 10 },
      { limit: 10, locked: 'true' },
      { limit: 10, locked: 'false' },
      { limit: 5, q: 'rww-mine' },
    ];
    for (const query of queries) {
      const plans = await explained(
        () => get('/v1/domains', query),
        (sql) => /\bdomains\b/.test(sql) && !/api_keys/.test(sql),
      );
      for (const { sql, plan } of plans) {
        const read = rowsRead(plan, (n) => n['Relation Name'] === 'domains');
        expect(read, `${JSON.stringify(query)}: ${sql}`).to.be.at.most(2 * owned + 10);
      }
    }
  });
});

interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Rows the plan's scans matching `scan` produced or filtered away, over all loops. */
function rowsRead(node: PlanNode, scan: (n: PlanNode) => boolean): number {
  const own = scan(node)
    ? ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) *
      (node['Actual Loops'] ?? 1)
    : 0;
  return own + (node.Plans ?? []).reduce((a, p) => a + rowsRead(p, scan), 0);
}
