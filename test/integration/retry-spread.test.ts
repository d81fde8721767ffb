import { expect } from 'chai';
import { registryEach } from '../../shared/catalog/registry';
import { RELOCK_POLICY } from '../../shared/push/handler';
import { createTestDb, type TestDb } from '../helpers/db';
import { ScriptedRegistry } from '../helpers/registry';

/** The scripted registry, also noting when each call came (ms since the test's start). */
class TimedRegistry extends ScriptedRegistry {
  readonly at = new Map<string, number[]>();
  t0 = performance.now();

  override lock(domain: string) {
    this.at.set(domain, [...(this.at.get(domain) ?? []), performance.now() - this.t0]);
    return super.lock(domain);
  }
}

describe('retries of concurrent workers spread (full jitter)', () => {
  let t: TestDb;
  before(async () => {
    t = await createTestDb();
  });
  after(() => t?.drop());

  it('eight relock loops meeting the same registry outage do not retry in lockstep', async () => {
    const registry = new TimedRegistry(t.db);
    const workers = [...Array(8).keys()].map((w) => `w${w}.retry-spread.example`);
    // Each worker's relock of its domain fails 4 times, then the registry answers: the production relock policy's 5 tries.
    for (const name of workers) registry.failNext(name, 'lock', 4);
    registry.t0 = performance.now();
    const results = await Promise.all(workers.map((name) => registryEach(registry, 'lock', [name], RELOCK_POLICY)));
    expect(results.flat().map((r) => r.status)).to.deep.equal(workers.map(() => 'fulfilled'));

    const instants = workers.map((name) => registry.at.get(name) ?? []);
    for (const tries of instants) expect(tries).to.have.length(5);
    // Without jitter every worker tries at 0, 100, 300, 700, 1500 ms; with it, each retry lands anywhere in its window.
    const last = instants.map((tries) => tries[4]);
    expect(Math.max(...last) - Math.min(...last), `last tries at ${last.map(Math.round).join(', ')} ms`).to.be.above(150);
    for (const l of last) expect(l).to.be.below(1_500 + 250);
    // No two workers share their retry instants (within 5 ms of each other at every retry).
    for (let a = 0; a < workers.length; a++) {
      for (let b = a + 1; b < workers.length; b++) {
        const lockstep = [1, 2, 3, 4].every((i) => Math.abs(instants[a][i] - instants[b][i]) < 5);
        expect(lockstep, `${workers[a]} and ${workers[b]} retried together`).to.equal(false);
      }
    }
  });
});
