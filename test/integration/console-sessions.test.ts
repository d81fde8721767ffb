import { expect } from 'chai';
import { parseCsv } from '../helpers/csv';
import { authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/**
 * The `dp_session=...` pair of a Set-Cookie header, ready to send back as a Cookie header, with the
 * session's binding (the `Session-Binding` answer the console sends back with every call).
 */
function sessionCookie(res: { headers: Record<string, unknown> }): { pair: string; attributes: string; binding: string } {
  const all = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  const line = all.find((c) => c.startsWith('dp_session='));
  expect(line, `Set-Cookie: ${JSON.stringify(all)}`).to.be.a('string');
  return { pair: line!.split(';')[0], attributes: line!, binding: String(res.headers['session-binding'] ?? '') };
}

describe('console sessions (API key exchanged for a cookie)', () => {
  let sys: TestSystem;
  let now = Date.now();
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    sys = await startSystem({ clock: () => new Date(now) });
    losing = await makeReseller(sys, 'sess-losing');
    gaining = await makeReseller(sys, 'sess-gaining');
    await authorize(sys, gaining, losing);
  });
  after(async () => {
    await sys?.stop();
  });
  beforeEach(() => {
    now = Date.now();
  });

  async function signIn(key = losing.key) {
    const res = await sys.http().post('/v1/sessions').send({ api_key: key });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return sessionCookie(res);
  }

  it('signing in with a reseller key sets an httpOnly, SameSite=Strict cookie for 12 h, stored only as a hash', async () => {
    const res = await sys.http().post('/v1/sessions').send({ api_key: losing.key });
    expect(res.status).to.equal(201);
    expect(res.body.username).to.equal('sess-losing');
    const { pair, attributes, binding } = sessionCookie(res);
    expect(attributes).to.match(/HttpOnly/i);
    expect(attributes).to.match(/SameSite=Strict/i);
    expect(attributes).to.match(/Max-Age=43200/);
    expect(attributes).to.match(/Path=\//);
    const token = decodeURIComponent(pair.slice('dp_session='.length));
    const rows = await sys.db('console_sessions').where({ reseller_id: losing.id });
    expect(rows.map((r) => r.token_hash)).to.not.include(token);
    expect(JSON.stringify(rows)).to.not.include(token);
    expect(JSON.stringify(rows)).to.not.include(losing.key);
    const me = await sys.http().get('/v1/me').set({ Cookie: pair, 'Session-Binding': binding });
    expect(me.status).to.equal(200);
    expect(me.body.username).to.equal('sess-losing');
  });

  it('a wrong key, the operator key or no key is refused with 401 and creates no session', async () => {
    const before = await sys.db('console_sessions').count('* as n').first();
    for (const key of ['dpk_not-a-real-key', OPERATOR_KEY]) {
      const res = await sys.http().post('/v1/sessions').send({ api_key: key });
      expect(res.status).to.equal(401);
      expect(res.body.error.code).to.equal('unauthorized');
      expect(res.headers['set-cookie']).to.equal(undefined);
    }
    const empty = await sys.http().post('/v1/sessions').send({});
    expect(empty.status).to.equal(400);
    expect(empty.body.error.code).to.equal('invalid_request');
    expect(empty.body.error.details.fields[0].path).to.equal('body.api_key');
    const after = await sys.db('console_sessions').count('* as n').first();
    expect(after).to.deep.equal(before);
  });

  it('a cookie-authenticated change without a matching Origin is refused with 403 and changes nothing', async () => {
    const { pair, binding } = await signIn();
    for (const origin of [undefined, 'https://evil.example', 'http://127.0.0.1:1']) {
      const req = sys.http().put('/v1/push-settings/notification-email').set({ Cookie: pair, 'Session-Binding': binding });
      if (origin) req.set('Origin', origin);
      const res = await req.send({ email: 'hijack@evil.example' });
      expect(res.status, origin).to.equal(403);
      expect(res.body.error.code).to.equal('origin_mismatch');
    }
    const row = await sys.db('resellers').where({ id: losing.id }).first('push_notification_email');
    expect(row.push_notification_email).to.equal(null);
    // The same change from the console's own origin goes through.
    const ok = await sys
      .http()
      .put('/v1/push-settings/notification-email')
      .set({ Cookie: pair, 'Session-Binding': binding })
      .set('Origin', sys.url)
      .send({ email: 'me@losing.example' });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    expect((await sys.db('resellers').where({ id: losing.id }).first('push_notification_email')).push_notification_email).to.equal(
      'me@losing.example',
    );
    // Reads need no Origin (EventSource and plain navigation do not send one).
    expect((await sys.http().get('/v1/push-settings').set({ Cookie: pair, 'Session-Binding': binding })).status).to.equal(200);
  });

  it('signing out ends the session: the cookie is cleared and no longer accepted', async () => {
    const { pair, binding } = await signIn();
    const out = await sys.http().delete('/v1/sessions/current').set({ Cookie: pair, 'Session-Binding': binding }).set('Origin', sys.url);
    expect(out.status).to.equal(204);
    expect(sessionCookie(out).attributes).to.match(/Expires=Thu, 01 Jan 1970/);
    const me = await sys.http().get('/v1/me').set({ Cookie: pair, 'Session-Binding': binding });
    expect(me.status).to.equal(401);
    expect(me.body.error.code).to.equal('unauthorized');
  });

  it('a session expires 12 hours after sign-in', async () => {
    const { pair, binding } = await signIn();
    now += 12 * 60 * 60 * 1000 - 1000;
    expect((await sys.http().get('/v1/me').set({ Cookie: pair, 'Session-Binding': binding })).status).to.equal(200);
    now += 2000;
    const res = await sys.http().get('/v1/me').set({ Cookie: pair, 'Session-Binding': binding });
    expect(res.status).to.equal(401);
  });

  it('revoking the API key ends the sessions it opened', async () => {
    const other = await makeReseller(sys, 'sess-revoked');
    const { pair, binding } = await signIn(other.key);
    expect((await sys.http().get('/v1/me').set({ Cookie: pair, 'Session-Binding': binding })).status).to.equal(200);
    await sys.db('api_keys').where({ reseller_id: other.id }).update({ revoked_at: new Date() });
    expect((await sys.http().get('/v1/me').set({ Cookie: pair, 'Session-Binding': binding })).status).to.equal(401);
  });

  it('a sign-in from a foreign page (Origin of another site) is refused with 403', async () => {
    const res = await sys.http().post('/v1/sessions').set('Origin', 'https://evil.example').send({ api_key: losing.key });
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal('origin_mismatch');
    expect(res.headers['set-cookie']).to.equal(undefined);
  });

  it('GET /v1/domains reports the total matching the filter, for "select all N matching"', async () => {
    const names = Array.from({ length: 7 }, (_, i) => `total-${i}.example`);
    await importDomains(
      sys,
      names.map((name, i) => ({ name, reseller: 'sess-losing', locked: i < 3 })),
    );
    const res = await sys
      .http()
      .get('/v1/domains')
      .query({ q: 'total-', locked: 'true', limit: 2 })
      .set('Authorization', `Bearer ${losing.key}`);
    expect(res.status).to.equal(200);
    expect(res.body.items).to.have.length(2);
    expect(res.body.total).to.equal(3);
    expect(res.body.next_cursor).to.be.a('string');
  });

  it("?format=csv on a job's items downloads the CSV (a plain link cannot set Accept), filtered by status", async () => {
    await importDomains(sys, [{ name: 'csvlink-1.example', reseller: 'sess-losing' }]);
    const sub = await submit(sys, losing, { gaining_reseller: 'sess-gaining', domains: ['csvlink-1.example', 'csvlink-missing.example'] });
    expect(sub.status).to.equal(202);
    await waitForJob(sys, losing, sub.body.id);
    const { pair, binding } = await signIn();
    const res = await sys
      .http()
      .get(`/v1/jobs/${sub.body.id}/items?format=csv&status=failed`)
      .set({ Cookie: pair, 'Session-Binding': binding })
      .buffer(true);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/text\/csv/);
    expect(res.headers['content-disposition']).to.match(/attachment/);
    const rows = parseCsv(res.text);
    expect(rows[0][0]).to.equal('domain');
    expect(rows.slice(1).map((r) => [r[0], r[1], r[2]])).to.deep.equal([['csvlink-missing.example', 'failed', 'not_found']]);
  });
  it('a push submitted from a console session records the session and its key prefix as the submitter, never the key', async () => {
    const { pair, binding } = await signIn();
    const res = await sys
      .http()
      .post('/v1/bulk-pushes')
      .set({ Cookie: pair, 'Session-Binding': binding })
      .set('Origin', sys.url)
      .send({ gaining_reseller: 'sess-gaining', domains: ['sess-submitter.example'], start_after_seconds: 600 });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await sys.http().get(`/v1/bulk-pushes/${res.body.id}`).set({ Cookie: pair, 'Session-Binding': binding });
    expect(job.body.submitted_by).to.deep.equal({ via: 'session', key_prefix: losing.key.slice(0, 8) });
    expect(JSON.stringify(job.body)).to.not.include(losing.key);
    const stop = await sys
      .http()
      .post(`/v1/bulk-pushes/${res.body.id}/cancel`)
      .set({ Cookie: pair, 'Session-Binding': binding })
      .set('Origin', sys.url);
    expect(stop.status).to.equal(202);
  });
});
