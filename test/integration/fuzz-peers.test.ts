import { expect } from 'chai';
import type { DbRegistry } from '../../shared/catalog/registry';
import { stringProblem } from '../../shared/platform/validation';
import { allItems, authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { startSystem, type TestSystem } from '../helpers/system';

/** A registry whose refusals carry what no caller may send: a NUL and an unpaired surrogate. */
class GarbledRegistry extends ScriptedRegistry {
  refuse = new Set<string>();
  override async unlock(domain: string) {
    if (this.refuse.has(domain)) throw new Error(`refused\u0000 by the registry \ud800 (${domain})`);
    return (this.inner as DbRegistry).unlock(domain);
  }
}

/**
 * Input the API refuses (api/clean-input.ts) can still come from a peer: a registry's error text
 * becomes an item's message. Postgres cannot store a NUL in text, so the text is made storable
 * (U+FFFD) on its way, and the job ends as it would with any other refusal.
 */
describe('peer text with NUL or a lone surrogate (a registry refusal) is stored, made storable', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let registry: GarbledRegistry;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ registry: (db) => (registry = new GarbledRegistry(db)) });
    losing = await makeReseller(sys, 'peer-losing');
    const gaining = await makeReseller(sys, 'peer-gaining');
    await authorize(sys, gaining, losing);
    await importDomains(sys, [
      { name: 'garbled.example', reseller: 'peer-losing', locked: true },
      { name: 'fine.example', reseller: 'peer-losing', locked: true },
    ]);
  });
  after(() => sys?.stop());

  it('a registry refusal whose text holds a NUL and a lone surrogate fails that item with the text shown as U+FFFD; the job completes', async () => {
    registry.refuse.add('garbled.example');
    const res = await submit(sys, losing, {
      gaining_reseller: 'peer-gaining',
      domains: ['garbled.example', 'fine.example'],
      apply_to_locked: true,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id, undefined, 20_000);
    expect(job.status).to.equal('completed');
    const items = Object.fromEntries((await allItems(sys, losing, res.body.id)).map((i) => [i.domain, i]));
    expect(items['fine.example'].status).to.equal('pushed');
    expect(items['garbled.example'].status).to.equal('failed');
    const message = String(items['garbled.example'].message);
    expect(message).to.include('refused\ufffd by the registry \ufffd (garbled.example)');
    expect(stringProblem(message)).to.equal(undefined);
  });
});
