import { Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import type { Response } from 'supertest';
import { createAuthThrottle } from '../../shared/platform/throttle';
import { authorize, importDomains, makeReseller, snapshot, submit, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/** Issue 7 point 4: failed authentication of every kind is throttled (Redis, shared by processes) and logged. */

const LIMIT = 5;

/** A logger that keeps its JSON lines, so the test reads exactly what an operator's log would hold. */
function capturingLogger() {
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function expect429(res: Response, code = 'too_many_attempts') {
  expect(res.status, JSON.stringify(res.body)).to.equal(429);
  expect(res.body.error.code).to.equal(code);
  const after = Number(res.headers['retry-after']);
  expect(after).to.be.a('number').and.to.be.at.least(1);
  return after;
}

describe('tenancy: failed authentication is throttled and logged', () => {
  let sys: TestSystem;
  let acme: TestReseller;
  let beta: TestReseller;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
  let lines: any[];

  before(async () => {
    const captured = capturingLogger();
    lines = captured.lines;
    sys = await startSystem({
      log: captured.log,
      config: { AUTH_MAX_FAILURES: LIMIT, AUTH_FAILURE_WINDOW_SECONDS: 60, AUTH_BLOCK_SECONDS: 120 },
    });
    acme = await makeReseller(sys, 'acme');
    beta = await makeReseller(sys, 'beta');
    await authorize(sys, beta, acme);
  });
  after(() => sys?.stop());
  beforeEach(async () => {
    // Each test starts with clean counters (only this system's keys).
    const keys = await sys.rt.deps.redis.keys(`${sys.config.QUEUE_PREFIX}:authfail:*`);
    if (keys.length) await sys.rt.deps.redis.del(...keys);
    lines.length = 0;
  });

  const failures = (kind: string) => lines.filter((l) => l.event === 'auth_failure' && l.kind === kind);

  it('bad API keys: 401 up to the limit, then 429 with Retry-After even for a good key from that address; each failure logged without the key', async () => {
    const bad = 'dpk_guessGUESSguessGUESSguessGUESSguess0123';
    for (let i = 0; i < LIMIT; i++) {
      expect((await sys.http().get('/v1/me').set('Authorization', `Bearer ${bad}`)).status).to.equal(401);
    }
    expect429(await sys.http().get('/v1/me').set('Authorization', `Bearer ${bad}`));
    // Blocked is blocked: a guesser cannot learn that a key is right from a different answer.
    expect429(await sys.http().get('/v1/me').set('Authorization', `Bearer ${acme.key}`));
    const logged = failures('api_key');
    expect(logged).to.have.length(LIMIT);
    for (const l of logged) {
      expect(l).to.include({ ip: '127.0.0.1', route: 'GET /v1/me', key_prefix: bad.slice(0, 8), level: 40 });
      expect(JSON.stringify(l)).to.not.include(bad.slice(8, 20));
    }
    // The counters live in Redis: another API process (a second throttle on the same Redis) sees the block.
    const other = createAuthThrottle(sys.rt.deps.redis, sys.config, pino({ level: 'silent' }));
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
    let refused: any;
    await other.assertAllowed('api_key', '127.0.0.1').catch((e) => (refused = e));
    expect(refused?.status).to.equal(429);
  });

  it('the operator key through the dashboard basic auth counts on the API key counter (it is accepted by /v1/admin too)', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await sys.http().get('/admin/queues').auth('ops', `wrong-operator-key-${i}-0123456789`);
      expect(res.status).to.equal(401);
    }
    expect429(await sys.http().get('/admin/queues').auth('ops', 'wrong-operator-key-x-0123456789'));
    expect429(await sys.http().get('/admin/queues').auth('ops', OPERATOR_KEY));
    expect(failures('operator_key')).to.have.length(LIMIT);
    expect(failures('operator_key')[0]).to.include({ route: 'GET /admin/queues', key_prefix: 'wrong-op' });
    // One counter per credential and address: the same key cannot be guessed on through /v1.
    expect429(await sys.http().get('/v1/admin/resellers').set('Authorization', `Bearer ${OPERATOR_KEY}`));
    expect429(await sys.http().get('/v1/me').set('Authorization', `Bearer ${acme.key}`));
  });

  it('claim-token guesses are throttled; the log names the route pattern, never the token', async () => {
    const guess = (i: number) => `claim_${'g'.repeat(40)}${i}`;
    for (let i = 0; i < LIMIT; i++) expect((await sys.http().get(`/v1/claims/${guess(i)}`)).status).to.equal(404);
    await waitUntil(() => failures('claim_token').length >= LIMIT, { timeout: 5000, label: 'the failed claims to be logged' });
    expect429(
      await sys
        .http()
        .post(`/v1/claims/${guess(99)}`)
        .send({ choice: 'new_account' }),
    );
    const logged = failures('claim_token');
    expect(logged[0]).to.include({ ip: '127.0.0.1', route: 'GET /v1/claims/:token' });
    expect(JSON.stringify(lines)).to.not.include('gggggggggg');
  });

  it('console sign-in (POST /v1/sessions) uses the same throttle and counter: 401s, then 429 with Retry-After, even for a good key', async () => {
    const bad = 'dpk_signinSIGNINsigninSIGNINsignin012345';
    for (let i = 0; i < LIMIT; i++) {
      expect((await sys.http().post('/v1/sessions').send({ api_key: bad })).status).to.equal(401);
    }
    expect429(await sys.http().post('/v1/sessions').send({ api_key: bad }));
    expect429(await sys.http().post('/v1/sessions').send({ api_key: acme.key }));
    expect(await sys.db('console_sessions').count('* as n').first()).to.deep.equal({ n: 0 });
    const logged = failures('sign_in');
    expect(logged).to.have.length(LIMIT);
    expect(logged[0]).to.include({ ip: '127.0.0.1', route: 'POST /v1/sessions', key_prefix: bad.slice(0, 8) });
    expect(JSON.stringify(lines)).to.not.include(bad.slice(8, 20));
    // The key a sign-in guesses is an API key: /v1/* is refused from this address too.
    expect429(await sys.http().get('/v1/me').set('Authorization', `Bearer ${acme.key}`));
  });

  it('existing-profile passwords are throttled per (losing, gaining) pair, and the refusal changes nothing', async () => {
    const profile = { domain: 'home.example', username: 'target', password: 'the-right-password' };
    expect((await sys.http().post('/v1/profiles').set('Authorization', `Bearer ${beta.key}`).send(profile)).status).to.equal(201);
    await importDomains(sys, [{ name: 'pw-1.example', reseller: 'acme' }]);
    const attempt = (password: string) =>
      submit(sys, acme, {
        gaining_reseller: 'beta',
        domains: ['pw-1.example'],
        profile: { mode: 'existing', domain: 'home.example', username: 'target', password },
      });
    const before = await snapshot(sys);
    for (let i = 0; i < LIMIT; i++) {
      const res = await attempt(`wrong-${i}`);
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal('invalid_profile_credentials');
    }
    expect429(await attempt('wrong-again'));
    expect429(await attempt(profile.password));
    expect(await snapshot(sys)).to.deep.equal(before);
    const logged = failures('profile_password');
    expect(logged).to.have.length(LIMIT);
    expect(logged[0]).to.include({ route: 'POST /v1/bulk-pushes', reseller: 'acme', gaining_reseller: 'beta' });
    expect(JSON.stringify(lines)).to.not.include('wrong-0');
  });
});
