import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import type { Response } from 'supertest';
import { createApp } from '../../api/app';
import { startMetricsServer } from '../../worker/metrics-server';
import { checkedRequest, serveChecked } from '../helpers/conformance';
import { makeReseller, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * Issue 17, findings 2, 6 and 11: the auth throttle counts, then decides; the block it starts lasts
 * AUTH_BLOCK_SECONDS; one counter per credential kind and address whatever the route; IPv6 by /64;
 * missing credentials count; /metrics takes METRICS_TOKEN only, under the same throttle; bodies
 * are read only once the caller is known.
 */

const LIMIT = 20;
// A window far longer than the block: the 429 must come from the block (its Retry-After, its end),
// and 20 requests in a row never outlast the window on a slow machine.
const WINDOW_SECONDS = 60;
const BLOCK_SECONDS = 6;
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** A logger that keeps its JSON lines, so the test reads exactly what an operator's log would hold. */
function capturingLogger() {
  // biome-ignore lint/suspicious/noExplicitAny: log lines, read field by field in the assertions
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function expect429(res: Response) {
  expect(res.status, JSON.stringify(res.body)).to.equal(429);
  expect(res.body.error.code).to.equal('too_many_attempts');
  const after = Number(res.headers['retry-after']);
  expect(after).to.be.at.least(1);
  return after;
}

const wrongKey = (i: number | string) => `dpk_wrongWRONGwrongWRONG${String(i).padStart(16, '0')}`;
const statuses = (responses: Response[]) => responses.map((r) => r.status);
const count = (list: number[], status: number) => list.filter((s) => s === status).length;

describe('throttle: count then decide, one counter per credential and address', () => {
  let sys: TestSystem;
  let acme: TestReseller;
  // biome-ignore lint/suspicious/noExplicitAny: log lines, read field by field in the assertions
  let lines: any[];
  let port: number;

  before(async () => {
    const captured = capturingLogger();
    lines = captured.lines;
    sys = await startSystem({
      log: captured.log,
      worker: false,
      config: {
        AUTH_MAX_FAILURES: LIMIT,
        AUTH_FAILURE_WINDOW_SECONDS: WINDOW_SECONDS,
        AUTH_BLOCK_SECONDS: BLOCK_SECONDS,
        METRICS_TOKEN,
      },
    });
    acme = await makeReseller(sys, 'acme');
    // Dual stack: http://127.0.0.1 arrives as ::ffff:127.0.0.1, http://[::1] as ::1.
    port = (sys.server.address() as AddressInfo).port;
    await new Promise((r) => sys.server.close(r));
    await new Promise<void>((r) => sys.server.listen(port, '::', () => r()));
  });
  after(() => sys?.stop());
  beforeEach(async () => {
    const keys = await sys.rt.deps.redis.keys(`${sys.config.QUEUE_PREFIX}:authfail:*`);
    if (keys.length) await sys.rt.deps.redis.del(...keys);
    lines.length = 0;
  });

  const events = (event: string, kind?: string) => lines.filter((l) => l.event === event && (!kind || l.kind === kind));
  const me = (key?: string, via = sys.http()) => (key ? via.get('/v1/me').set('Authorization', `Bearer ${key}`) : via.get('/v1/me'));

  it('the 21st failure is refused 429 and starts the block, which lasts AUTH_BLOCK_SECONDS (not the window)', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await me(wrongKey(i))).status).to.equal(401);
    const blockedAt = Date.now();
    expect(expect429(await me(wrongKey('x')))).to.equal(BLOCK_SECONDS);
    // Blocked is blocked: the right key gets the same answer, and no try is left while it lasts.
    expect429(await me(acme.key));
    // A wrong key meanwhile is refused by the block, not counted (the lookup runs beside the check; the block wins).
    expect429(await me(wrongKey('y')));
    expect(events('auth_failure', 'api_key')).to.have.length(LIMIT);
    expect(events('auth_blocked', 'api_key')).to.have.length(1);
    expect(events('auth_blocked')[0]).to.include({ block_seconds: BLOCK_SECONDS, route: 'GET /v1/me' });
    const back = await waitUntil(
      async () => {
        const res = await me(acme.key);
        return res.status === 200 ? Date.now() : res.status === 429 ? null : Promise.reject(new Error(`answered ${res.status}`));
      },
      { timeout: (BLOCK_SECONDS + 10) * 1000, interval: 250, label: 'the block to end' },
    );
    // The block ends after AUTH_BLOCK_SECONDS (the window alone would refuse for about a minute more).
    expect(back - blockedAt).to.be.at.least((BLOCK_SECONDS - 1) * 1000);
    expect(back - blockedAt).to.be.below((BLOCK_SECONDS + 5) * 1000);
  });

  it('a concurrent burst of 30 wrong keys gets exactly 20 answers 401, the rest 429', async () => {
    const answers = statuses(await Promise.all(Array.from({ length: 30 }, (_, i) => me(wrongKey(`burst${i}`)))));
    expect(count(answers, 401), answers.join(' ')).to.equal(LIMIT);
    expect(count(answers, 429), answers.join(' ')).to.equal(30 - LIMIT);
    expect429(await me(acme.key));
  });

  it('an API key guessed through /v1/*, through the console sign-in and the dashboard counts on one counter', async () => {
    for (let i = 0; i < 10; i++) expect((await me(wrongKey(`v1-${i}`))).status).to.equal(401);
    for (let i = 0; i < 5; i++)
      expect(
        (
          await sys
            .http()
            .post('/v1/sessions')
            .send({ api_key: wrongKey(`si-${i}`) })
        ).status,
      ).to.equal(401);
    for (let i = 0; i < 5; i++)
      expect(
        (
          await sys
            .http()
            .get('/admin/queues')
            .auth('ops', wrongKey(`op-${i}`))
        ).status,
      ).to.equal(401);
    // 20 failures over three routes: no route has tries of its own left.
    expect429(await sys.http().post('/v1/sessions').send({ api_key: acme.key }));
    expect429(await me(acme.key));
    expect429(await sys.http().get('/admin/queues').auth('ops', OPERATOR_KEY));
    expect(await sys.db('console_sessions').count('* as n').first()).to.deep.equal({ n: 0 });
    expect(events('auth_failure').map((l) => l.kind)).to.have.members([
      ...Array(10).fill('api_key'),
      ...Array(5).fill('sign_in'),
      ...Array(5).fill('operator_key'),
    ]);
  });

  it('missing credentials count as failures: 20 requests without a key get 401, then 429; each is logged', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await me()).status).to.equal(401);
    expect429(await me());
    expect429(await sys.http().get('/admin/queues'));
    expect429(await sys.http().get('/metrics'));
    const logged = events('auth_failure', 'api_key');
    expect(logged).to.have.length(LIMIT);
    expect(logged[0]).to.include({ missing: true, route: 'GET /v1/me' });
    // On a counter of their own: they guess nothing, so the people behind this address keep their tries.
    expect((await me(acme.key)).status).to.equal(200);
    expect((await me(wrongKey('after-missing'))).status).to.equal(401);
  });

  it('IPv4-mapped IPv6 counts as IPv4; IPv6 addresses count by their /64', async () => {
    // From 127.0.0.1 the socket says ::ffff:127.0.0.1: its counter is 127.0.0.1's.
    expect((await me(wrongKey('v4'))).status).to.equal(401);
    expect(events('auth_failure')[0].ip).to.equal('::ffff:127.0.0.1');
    expect(await sys.rt.deps.redis.exists(`${sys.config.QUEUE_PREFIX}:authfail:api_key:127.0.0.1`)).to.equal(1);

    const v6 = checkedRequest(`http://[::1]:${port}`);
    for (let i = 0; i < LIMIT; i++) expect((await me(wrongKey(`v6-${i}`), v6)).status).to.equal(401);
    expect429(await me(acme.key, v6));
    // Another address of the same /64 is blocked too; another /64 and IPv4 are not.
    const throttle = sys.rt.deps.authThrottle;
    const refusal = await throttle.assertAllowed('api_key', '::abcd:1').catch((e) => e);
    expect(refusal?.status).to.equal(429);
    await throttle.assertAllowed('api_key', '0:0:0:1::1');
    expect((await me(acme.key)).status).to.equal(200);
  });

  it('/metrics takes METRICS_TOKEN only: the operator key is 401; 30 wrong tokens get 20 × 401, then 429, each logged without the token', async () => {
    expect((await sys.http().get('/metrics').set('Authorization', `Bearer ${OPERATOR_KEY}`)).status).to.equal(401);
    const good = await sys.http().get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
    expect(good.status).to.equal(200);
    expect(good.text).to.match(/^domain_push_queue_depth\{/m);
    const wrong = (i: number) => `metrics-guess-${String(i).padStart(20, '0')}`;
    const answers: number[] = [];
    // One is already counted (the operator key): 19 more 401s, then 429 with Retry-After.
    for (let i = 0; i < 30; i++) {
      const res = await sys
        .http()
        .get('/metrics')
        .set('Authorization', `Bearer ${wrong(i)}`);
      answers.push(res.status);
      if (res.status === 429) expect(Number(res.headers['retry-after'])).to.be.at.least(1);
    }
    expect(count(answers, 401)).to.equal(LIMIT - 1);
    expect(count(answers, 429)).to.equal(30 - (LIMIT - 1));
    expect((await sys.http().get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`)).status).to.equal(429);
    const logged = events('auth_failure', 'metrics_token');
    expect(logged).to.have.length(LIMIT);
    expect(logged[1]).to.include({ route: 'GET /metrics', key_prefix: 'metrics-' });
    expect(JSON.stringify(lines)).to.not.include(wrong(3).slice(8));
    expect(JSON.stringify(lines)).to.not.include(OPERATOR_KEY.slice(8));
    // A separate counter: the API still answers this address.
    expect((await me(acme.key)).status).to.equal(200);
  });

  it('/metrics with METRICS_TOKEN unset answers 403 metrics_disabled, naming the setting', async () => {
    const deps = { ...sys.rt.deps, config: { ...sys.rt.deps.config, METRICS_TOKEN: undefined } };
    const server = serveChecked(createApp(deps), deps);
    try {
      await new Promise((r) => server.once('listening', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (const auth of [undefined, `Bearer ${OPERATOR_KEY}`, `Bearer ${METRICS_TOKEN}`]) {
        const req = checkedRequest(url).get('/metrics');
        const res = await (auth ? req.set('Authorization', auth) : req);
        expect(res.status).to.equal(403);
        expect(res.body.error.code).to.equal('metrics_disabled');
        expect(res.body.error.message).to.include('METRICS_TOKEN');
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("the worker's metrics port (WORKER_METRICS_PORT) has the same rule: METRICS_TOKEN only, throttled, 403 when unset", async () => {
    const worker = await startMetricsServer(sys.rt.deps, 0);
    const unset = await startMetricsServer({ ...sys.rt.deps, config: { ...sys.rt.deps.config, METRICS_TOKEN: undefined } }, 0);
    try {
      const at = (server: http.Server, auth?: string) =>
        fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, { headers: auth ? { Authorization: auth } : {} });
      expect((await at(worker, `Bearer ${METRICS_TOKEN}`)).status).to.equal(200);
      expect((await at(worker, `Bearer ${OPERATOR_KEY}`)).status).to.equal(401);
      expect((await at(worker)).status).to.equal(401);
      for (let i = 1; i < LIMIT; i++)
        expect((await at(worker, `Bearer metrics-guess-${String(i).padStart(20, '0')}`)).status).to.equal(401);
      const blocked = await at(worker, `Bearer ${METRICS_TOKEN}`);
      expect(blocked.status).to.equal(429);
      expect(Number(blocked.headers.get('retry-after'))).to.equal(BLOCK_SECONDS);
      expect(events('auth_failure', 'metrics_token').filter((l) => !l.missing)).to.have.length(LIMIT);
      expect(events('auth_failure', 'metrics_token')[1]).to.include({ missing: true, route: 'GET /metrics (worker)' });
      expect(events('auth_failure', 'metrics_token')[2]).to.include({ key_prefix: 'metrics-', route: 'GET /metrics (worker)' });
      const off = await at(unset, `Bearer ${METRICS_TOKEN}`);
      expect(off.status).to.equal(403);
      expect(((await off.json()) as { error: { code: string } }).error.code).to.equal('metrics_disabled');
    } finally {
      await new Promise((r) => worker.close(r));
      await new Promise((r) => unset.close(r));
    }
  });

  describe('bodies are read after authentication', () => {
    it('an anonymous body is never parsed: invalid JSON without a key is 401, with one 400', async () => {
      const broken = '{"domains": ["a.example", ';
      const anon = await sys.http().post('/v1/bulk-pushes').set('Content-Type', 'application/json').send(broken);
      expect(anon.status).to.equal(401);
      expect(anon.body.error.code).to.equal('unauthorized');
      const wrong = await sys
        .http()
        .post('/v1/bulk-pushes')
        .set('Authorization', `Bearer ${wrongKey('body')}`)
        .set('Content-Type', 'application/json')
        .send(broken);
      expect(wrong.status).to.equal(401);
      const signedIn = await sys
        .http()
        .post('/v1/bulk-pushes')
        .set('Authorization', `Bearer ${acme.key}`)
        .set('Content-Type', 'application/json')
        .send(broken);
      expect(signedIn.status).to.equal(400);
      expect(signedIn.body.error.code).to.equal('invalid_request');
      // The routes whose credential is in the body or the path still read theirs.
      expect((await sys.http().post('/v1/sessions').set('Content-Type', 'application/json').send(broken)).status).to.equal(400);
      expect((await sys.http().post('/v1/sessions').send({ api_key: acme.key })).status).to.equal(201);
    });

    it('a body over its route limit is refused 413 before authentication, without being read', async () => {
      // The headers say 30 MB; only a few bytes follow. The answer comes at once, nothing waits for the rest.
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v1/admin/domains/import',
            headers: { 'Content-Type': 'application/json', 'Content-Length': String(30 * 1024 * 1024) },
          },
          (r) => {
            let body = '';
            r.on('data', (c) => (body += c));
            r.on('end', () => {
              req.destroy();
              resolve({ status: r.statusCode!, body });
            });
          },
        );
        req.on('error', reject);
        req.write('{"domains": [');
      });
      expect(res.status).to.equal(413);
      expect(JSON.parse(res.body).error.code).to.equal('payload_too_large');
      // A small body on the small routes: the sign-in takes 8 KB.
      const big = await sys
        .http()
        .post('/v1/sessions')
        .send({ api_key: 'x'.repeat(9000) });
      expect(big.status).to.equal(413);
    });
  });
});
