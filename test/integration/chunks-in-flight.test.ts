import { expect } from 'chai';
import { startWorker, type WorkerRuntime } from '../../worker/runtime';
import { authorize, importDomains, makeReseller, names, submit, waitForJob } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * MAX_CHUNKS_IN_FLIGHT caps the chunks being processed at once across every worker process (so a
 * second process adds failover, not contention, once Postgres is the limit).
 */
describe('MAX_CHUNKS_IN_FLIGHT: chunks in flight across worker processes', function () {
  this.timeout(120_000);

  /** Pushes 12 chunks through two workers (WORKER_CONCURRENCY 2 each) and returns the most chunks seen active at once. */
  async function peakActive(cap: number | undefined): Promise<number> {
    let registry: ScriptedRegistry | undefined;
    const sys: TestSystem = await startSystem({
      worker: false,
      config: { MAX_CHUNKS_IN_FLIGHT: cap, WORKER_CONCURRENCY: 2, CHUNK_SIZE: 4 },
      registry: (db) => (registry = new ScriptedRegistry(db)),
    });
    const workers: WorkerRuntime[] = [];
    try {
      const losing = await makeReseller(sys, 'cif-losing');
      const gaining = await makeReseller(sys, 'cif-gaining');
      await authorize(sys, gaining, losing);
      const domains = names('cif', 48);
      await importDomains(
        sys,
        domains.map((name) => ({ name, reseller: 'cif-losing', locked: true })),
      );
      // Slow registry calls keep each chunk in hand long enough to be seen.
      registry!.delayMs = 40;
      for (let i = 0; i < 2; i++) workers.push(await startWorker(sys.rt.deps, sys.rt.workerRedis()));
      const res = await submit(sys, losing, { gaining_reseller: 'cif-gaining', domains, apply_to_locked: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      let peak = 0;
      let ended = false;
      const sampler = (async () => {
        while (!ended) {
          peak = Math.max(peak, await sys.rt.deps.queues.bulk.getActiveCount());
          await new Promise((r) => setImmediate(r));
        }
      })();
      const job = await waitForJob(sys, losing, res.body.id);
      ended = true;
      await sampler;
      expect(job.counts).to.include({ pushed: 48, failed: 0 });
      return peak;
    } finally {
      for (const w of workers) await w.stop();
      await sys.stop();
    }
  }

  it('with the cap at 1, two workers of concurrency 2 never hold more than one chunk at once; without it they hold several', async () => {
    expect(await peakActive(1), 'chunks active at once with the cap').to.equal(1);
    expect(await peakActive(undefined), 'chunks active at once without the cap').to.be.at.least(2);
  });
});
