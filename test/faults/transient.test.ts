import { expect } from 'chai';
import pg from 'pg';
import { DbRegistry, type RegistryGateway } from '../../shared/catalog/registry';
import type { Db } from '../../shared/platform/db';
import { authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { freePort } from '../../shared/platform/ports';

/**
 * A registry reached through a database that refuses connections for a while: the first `n`
 * unlocks of a domain really connect to a port nothing listens on (ECONNREFUSED).
 */
class UnreachableRegistry implements RegistryGateway {
  private readonly inner: DbRegistry;
  readonly refusals = new Map<string, number>();
  deadPort = 0;
  constructor(db: Db) {
    this.inner = new DbRegistry(db);
  }
  async unlock(domain: string) {
    const n = this.refusals.get(domain) ?? 0;
    if (n > 0) {
      this.refusals.set(domain, n - 1);
      const client = new pg.Client({ host: '127.0.0.1', port: this.deadPort, user: 'postgres', connectionTimeoutMillis: 2000 });
      await client.connect();
    }
    await this.inner.unlock(domain);
  }
  lock(domain: string) {
    return this.inner.lock(domain);
  }
}

describe('faults: a transient fault on the registry path is never an item result', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let registry: UnreachableRegistry;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ registry: (db) => (registry = new UnreachableRegistry(db)) });
    registry.deadPort = await freePort();
    losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  it('an unlock refused by a database that is down (ECONNREFUSED) past the in-process retries is tried again later: the domain ends pushed and locked', async () => {
    await importDomains(sys, [
      { name: 'refused-1.example', reseller: 'losing', locked: true },
      { name: 'refused-2.example', reseller: 'losing', locked: true },
      { name: 'fine-1.example', reseller: 'losing', locked: true },
    ]);
    registry.refusals.set('refused-1.example', 6);
    registry.refusals.set('refused-2.example', 9);
    const res = await submit(sys, losing, {
      gaining_reseller: 'gaining',
      domains: ['refused-1.example', 'refused-2.example', 'fine-1.example'],
      apply_to_locked: true,
    });
    expect(res.status).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id, undefined, 60_000);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 3, failed: 0 });
    const rows = await sys
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .whereLike('d.name', '%.example')
      .select('d.name', 'r.username', 'd.locked');
    for (const d of rows) expect(d, d.name).to.include({ username: 'gaining', locked: true });
    const items = await sys.db('bulk_job_items').where({ job_id: res.body.id }).select('domain_name', 'status', 'was_locked', 'relocked');
    for (const i of items) expect(i, i.domain_name).to.include({ status: 'pushed', was_locked: true, relocked: true });
    expect([...registry.refusals.values()]).to.deep.equal([0, 0]);
  });
});
