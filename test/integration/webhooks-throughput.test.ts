import { expect } from 'chai';
import { recordEvents, type NewEvent } from '../../shared/events/events';
import type { Config } from '../../shared/platform/config';
import { createLogger } from '../../shared/platform/logger';
import { relayWebhooks } from '../../shared/webhooks/relay';
import { makeReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { startReceiver, type Receiver } from './webhooks-receiver';

const log = createLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent', { role: 'test-webhooks-rate' });

/**
 * A slow receiver holds back no one; one endpoint gets at most WEBHOOK_RATE_PER_SECOND. Prints
 * the figures (deliveries per second to one endpoint, lag from event to 2xx) for docs/webhooks.md.
 */
describe('webhooks: a slow receiver holds back no one, and each endpoint is rate-bounded', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  const receivers: Receiver[] = [];
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    sys = await startSystem({ worker: false });
  });
  afterEach(async () => {
    await stop?.();
    for (const r of receivers.splice(0)) await r.close();
    await sys.db('webhook_deliveries').del();
    await sys.db('webhook_endpoints').del();
  });
  after(() => sys?.stop());

  function relay(overrides: Partial<Config>) {
    const config: Config = { ...sys.config, WEBHOOK_RETRY_BASE_MS: 50, ...overrides };
    let stopped = false;
    const done = (async () => {
      while (!stopped) {
        await relayWebhooks({ db: sys.db, config, log });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    stop = async () => {
      stopped = true;
      await done;
    };
  }

  async function endpointFor(resellerKey: string, delayMs: number) {
    const rx = await startReceiver(() => ({ status: 200, delayMs }));
    receivers.push(rx);
    const res = await sys
      .http()
      .post('/v1/webhooks')
      .set('Authorization', `Bearer ${resellerKey}`)
      .send({ url: rx.url, event_types: ['domain.pushed_in'] });
    expect(res.status).to.equal(201);
    return { rx, id: res.body.id as string };
  }
  const events = (resellerId: number, n: number): NewEvent[] =>
    Array.from({ length: n }, (_, i) => ({ resellerId, type: 'domain.pushed_in', data: { i, domains: [`d${i}.example`] } }));

  async function lag(endpointId: string) {
    const { rows } = await sys.db.raw(
      `select extract(epoch from d.delivered_at - e.created_at) * 1000 as ms from webhook_deliveries d join events e on e.id = d.event_id
        where d.endpoint_id = ? and d.status = 'delivered' order by 1`,
      [endpointId],
    );
    const ms = rows.map((r: { ms: string }) => Number(r.ms));
    return { p50: ms[Math.floor(ms.length * 0.5)], p95: ms[Math.floor(ms.length * 0.95)] };
  }

  it('two lanes, one receiver answering after 1.5 s: the other endpoint gets 200 events meanwhile', async () => {
    const a = await makeReseller(sys, `rate-a-${process.pid % 1000}`, { push: false });
    const b = await makeReseller(sys, `rate-b-${process.pid % 1000}`, { push: false });
    const slow = await endpointFor(a.key, 1500);
    const fast = await endpointFor(b.key, 0);
    await recordEvents(sys.db, events(a.id, 20));
    await recordEvents(sys.db, events(b.id, 200));
    const started = Date.now();
    relay({ WEBHOOK_CONCURRENCY: 2, WEBHOOK_RATE_PER_SECOND: 1000, WEBHOOK_TIMEOUT_MS: 5000 });
    await waitUntil(() => fast.rx.received.length >= 200, { timeout: 60_000, label: 'the fast endpoint to get its 200 events' });
    const ms = Date.now() - started;
    const slowSoFar = slow.rx.received.length;
    expect(slowSoFar, 'the slow one is still at its first few').to.be.below(20);
    const l = await lag(fast.id);
    console.log(
      `      [webhooks] 200 events to one endpoint in ${ms} ms (${Math.round(200 / (ms / 1000))}/s, one request at a time) while a 1.5 s receiver got ${slowSoFar}; lag p50 ${Math.round(l.p50)} ms, p95 ${Math.round(l.p95)} ms`,
    );
  });

  it('WEBHOOK_RATE_PER_SECOND=40: 80 events to one endpoint take about 2 s, never much less', async () => {
    const c = await makeReseller(sys, `rate-c-${process.pid % 1000}`, { push: false });
    const ep = await endpointFor(c.key, 0);
    await recordEvents(sys.db, events(c.id, 80));
    const started = Date.now();
    relay({ WEBHOOK_RATE_PER_SECOND: 40 });
    await waitUntil(() => ep.rx.received.length >= 80, { timeout: 60_000, label: '80 events' });
    const ms = Date.now() - started;
    const gaps = ep.rx.received.slice(1).map((r, i) => r.at - ep.rx.received[i].at);
    const tightest = Math.min(...gaps);
    console.log(`      [webhooks] 80 events at 40/s took ${ms} ms; tightest gap ${tightest} ms`);
    expect(ms, 'bounded by the rate').to.be.at.least(79 * 25 * 0.8);
    expect(tightest, 'no two requests much closer than the spacing (arrival jitter allowed)').to.be.at.least(12);
  });
});
