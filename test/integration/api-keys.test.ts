import http from 'node:http';
import { expect } from 'chai';
import type { KeyView } from '../../cli/keys';
import { createLogger } from '../../shared/platform/logger';
import { authorize, importDomains, makeReseller, submit, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/** Issue 17 #9: keys a reseller controls (create, list, revoke) and the operator's key actions. */
describe('API keys a reseller controls', () => {
  let sys: TestSystem;
  let n = 0;

  before(async () => {
    sys = await startSystem({ worker: false, config: { SSE_AUTH_RECHECK_MS: 200 } });
  });
  after(async () => {
    await sys?.stop();
  });

  const reseller = () => makeReseller(sys, `keys-${process.pid % 1000}-${++n}`, { push: false });
  const as = (key: string) => ({
    get: (path: string) => sys.http().get(path).set('Authorization', `Bearer ${key}`),
    post: (path: string, body?: object) => {
      const req = sys.http().post(path).set('Authorization', `Bearer ${key}`);
      return body === undefined ? req : req.send(body);
    },
  });
  const list = async (key: string): Promise<KeyView[]> => {
    const res = await as(key).get('/v1/api-keys');
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.items;
  };
  const create = async (who: TestReseller | string, body: object = {}): Promise<KeyView & { api_key: string }> => {
    const res = await as(typeof who === 'string' ? who : who.key).post('/v1/api-keys', body);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  };
  const keyRows = (id: number) => sys.db('api_keys').where({ reseller_id: id }).orderBy('id');
  const meStatus = async (key: string) => (await as(key).get('/v1/me')).status;
  /** Signs in to the console with `key`; answers GET /v1/me's status as that session. */
  async function signIn(key: string): Promise<() => Promise<number>> {
    const res = await sys.http().post('/v1/sessions').send({ api_key: key });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const line = ((res.headers['set-cookie'] as unknown as string[]) ?? []).find((c) => c.startsWith('dp_session='));
    const cookie = line!.split(';')[0];
    // The console sends the session's binding with every call, when sign-in answers one.
    const binding = res.headers['session-binding'] as string | undefined;
    return async () => {
      const req = sys.http().get('/v1/me').set('Cookie', cookie);
      return (await (binding ? req.set('Session-Binding', binding) : req)).status;
    };
  }

  it('a second key is shown once, at creation, works at once, and the list shows only its prefix, label, created and last used', async () => {
    const r = await reseller();
    const made = await create(r, { label: 'CI deploys' });
    expect(made.api_key).to.match(/^dpk_[A-Za-z0-9_-]{43}$/);
    expect(made.prefix).to.equal(made.api_key.slice(0, 8));
    expect(made).to.include({ label: 'CI deploys', created_via: 'reseller', revoked_at: null, current: false, last_used_at: null });

    expect(await meStatus(made.api_key)).to.equal(200);
    // The use is recorded after the answer (fire-and-forget): wait for it.
    const used = await waitUntil(
      'the new key shows a last use',
      async () => (await list(r.key)).find((k) => k.id === made.id && k.last_used_at),
      5_000,
      25,
    );
    const items = await list(r.key);
    expect(items.map((k) => k.id)).to.deep.equal([items[0].id, made.id]);
    expect(items[0]).to.include({ created_via: 'signup', current: true, prefix: r.key.slice(0, 8) });
    expect(items[1]).to.include({ label: 'CI deploys', prefix: made.prefix, current: false });
    expect(items[1]).to.not.have.property('api_key');
    // Never again: neither key appears in any list, nor in the database (only hashes).
    const everything = JSON.stringify([
      items,
      await as(made.api_key)
        .get('/v1/api-keys')
        .then((x) => x.body),
      await keyRows(r.id),
    ]);
    expect(everything).to.not.include(made.api_key);
    expect(everything).to.not.include(r.key);

    // At most one write a minute per key: a second use at once leaves last_used_at as it was...
    expect(await meStatus(made.api_key)).to.equal(200);
    expect(await meStatus(made.api_key)).to.equal(200);
    const row = await sys.db('api_keys').where({ id: made.id }).first('last_used_at');
    expect(new Date(row.last_used_at).toISOString()).to.equal(new Date(used.last_used_at!).toISOString());
    // ... and a use after a minute records it again.
    await sys
      .db('api_keys')
      .where({ id: made.id })
      .update({ last_used_at: sys.db.raw(`now() - interval '61 seconds'`) });
    const stale = (await sys.db('api_keys').where({ id: made.id }).first('last_used_at')).last_used_at as Date;
    expect(await meStatus(made.api_key)).to.equal(200);
    await waitUntil(
      'the later use is recorded',
      async () => (await sys.db('api_keys').where({ id: made.id }).first('last_used_at')).last_used_at > stale,
      5_000,
      25,
    );
  });

  it('revoking a key ends it (401), ends its console session, leaves the other key working; a second revoke answers the same', async () => {
    const r = await reseller();
    const spare = await create(r, { label: 'laptop' });
    const session = await signIn(spare.api_key);
    expect(await session()).to.equal(200);

    const res = await as(r.key).post(`/v1/api-keys/${spare.id}/revoke`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.include({ id: spare.id, revoked_via: 'reseller' });
    expect(res.body.revoked_at).to.be.a('string');

    const refused = await as(spare.api_key).get('/v1/me');
    expect(refused.status).to.equal(401);
    expect(refused.body.error.code).to.equal('unauthorized');
    expect(await session()).to.equal(401);
    expect(await sys.db('console_sessions').where({ api_key_id: spare.id })).to.have.length(0);
    expect((await sys.http().post('/v1/sessions').send({ api_key: spare.api_key })).status).to.equal(401);
    expect(await meStatus(r.key)).to.equal(200);

    const again = await as(r.key).post(`/v1/api-keys/${spare.id}/revoke`);
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal(res.body);
    const items = await list(r.key);
    expect(items.find((k) => k.id === spare.id)!.revoked_at).to.equal(res.body.revoked_at);
  });

  it("revoking a key ends its open event stream within seconds; another key's stream of the same job goes on", async () => {
    const losing = await makeReseller(sys, `keys-stream-losing-${process.pid % 1000}`);
    const gaining = await makeReseller(sys, `keys-stream-gaining-${process.pid % 1000}`);
    await authorize(sys, gaining, losing);
    await importDomains(sys, [{ name: `keys-stream-${process.pid % 1000}.example`, reseller: losing.username, locked: false }]);
    const job = await submit(sys, losing, { gaining_reseller: gaining.username, domains: [`keys-stream-${process.pid % 1000}.example`] });
    expect(job.status, JSON.stringify(job.body)).to.equal(202);
    const spare = await create(losing, { label: 'dashboard' });
    const open = (key: string) =>
      new Promise<{ status: number; ended: Promise<string>; close(): void }>((resolve, reject) => {
        const req = http.get(
          `${sys.url}/v1/jobs/${job.body.id}/events`,
          { headers: { Accept: 'text/event-stream', Authorization: `Bearer ${key}` } },
          (res) => {
            let raw = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (raw += d));
            const ended = new Promise<string>((ok) => res.on('close', () => ok(raw)));
            resolve({ status: res.statusCode!, ended, close: () => req.destroy() });
          },
        );
        req.on('error', reject);
      });
    const doomed = await open(spare.api_key);
    const bystander = await open(losing.key);
    try {
      expect([doomed.status, bystander.status]).to.deep.equal([200, 200]);
      const t0 = Date.now();
      expect((await as(losing.key).post(`/v1/api-keys/${spare.id}/revoke`)).status).to.equal(200);
      await doomed.ended;
      expect(Date.now() - t0, 'stream ended within a few seconds of the revoke').to.be.below(3_000);
      expect((await open(spare.api_key)).status).to.equal(401);
      let bystanderEnded = false;
      bystander.ended.then(() => (bystanderEnded = true));
      await new Promise((r) => setImmediate(r));
      expect(bystanderEnded).to.equal(false);
    } finally {
      doomed.close();
      bystander.close();
    }
  });

  it('the last live key cannot be revoked (409 last_key); the key you call with can, once another lives', async () => {
    const r = await reseller();
    const [first] = await list(r.key);
    const last = await as(r.key).post(`/v1/api-keys/${first.id}/revoke`);
    expect(last.status).to.equal(409);
    expect(last.body.error.code).to.equal('last_key');
    expect(await meStatus(r.key)).to.equal(200);
    expect((await keyRows(r.id))[0].revoked_at).to.equal(null);

    const next = await create(r);
    const self = await as(r.key).post(`/v1/api-keys/${first.id}/revoke`);
    expect(self.status, JSON.stringify(self.body)).to.equal(200);
    expect(self.body).to.include({ current: true, revoked_via: 'reseller' });
    expect(await meStatus(r.key)).to.equal(401);
    expect(await meStatus(next.api_key)).to.equal(200);

    // Two revokes at once of the two last live keys: the reseller's row lock lets exactly one through.
    const third = await create(next.api_key);
    const both = await Promise.all([
      as(next.api_key).post(`/v1/api-keys/${next.id}/revoke`),
      as(third.api_key).post(`/v1/api-keys/${third.id}/revoke`),
    ]);
    expect(both.map((x) => x.status).sort()).to.deep.equal([200, 409]);
    expect(await sys.db('api_keys').where({ reseller_id: r.id }).whereNull('revoked_at')).to.have.length(1);
  });

  it("another reseller's key id is 404 and stays live; bad ids and bad bodies are 4xx and change nothing", async () => {
    const a = await reseller();
    const b = await reseller();
    await create(b);
    const [bKey] = await list(b.key);
    // last_used_at may still be written by the uses above (fire-and-forget): the rest must not change.
    const keysOf = async () =>
      JSON.stringify(
        (await sys.db('api_keys').whereIn('reseller_id', [a.id, b.id]).orderBy('id')).map(({ last_used_at: _u, ...row }) => row),
      );
    const before = await keysOf();

    const cross = await as(a.key).post(`/v1/api-keys/${bKey.id}/revoke`);
    expect(cross.status).to.equal(404);
    expect(cross.body.error.code).to.equal('not_found');
    expect(await list(a.key)).to.have.length(1);
    for (const id of ['abc', '0', '99999999999', '1e3', '-1', '12345678901234567890'])
      expect((await as(a.key).post(`/v1/api-keys/${encodeURIComponent(id)}/revoke`)).status, id).to.equal(404);

    const bad: [object, string][] = [
      [{ label: 123 }, 'body.label'],
      [{ label: 'x'.repeat(101) }, 'body.label'],
      [{ label: '' }, 'body.label'],
      [{ label: 'ok', api_key: 'dpk_chosen' }, 'body.api_key'],
    ];
    for (const [body, path] of bad) {
      const res = await as(a.key).post('/v1/api-keys', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error.code).to.equal('invalid_request');
      expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).to.include(path);
    }
    // The operator key acts for no reseller; a reseller key opens no operator route.
    expect((await as(OPERATOR_KEY).post('/v1/api-keys', {})).status).to.equal(401);
    expect((await as(OPERATOR_KEY).get('/v1/api-keys')).status).to.equal(401);
    expect((await as(a.key).get(`/v1/admin/resellers/${b.username}/api-keys`)).status).to.equal(401);
    expect((await as(a.key).post(`/v1/admin/resellers/${b.username}/api-keys/${bKey.id}/revoke`)).status).to.equal(401);
    expect((await as('dpk_not-a-key').post('/v1/api-keys', {})).status).to.equal(401);

    expect(await keysOf()).to.equal(before);
    expect(await meStatus(b.key)).to.equal(200);
  });

  it('a reseller holds at most 20 live keys (409 too_many_keys); revoking one makes room', async () => {
    const r = await reseller();
    for (let i = 0; i < 19; i++) await create(r, { label: `k${i}` });
    const over = await as(r.key).post('/v1/api-keys', { label: 'one too many' });
    expect(over.status).to.equal(409);
    expect(over.body.error.code).to.equal('too_many_keys');
    expect(await keyRows(r.id)).to.have.length(20);
    const items = await list(r.key);
    expect((await as(r.key).post(`/v1/api-keys/${items[5].id}/revoke`)).status).to.equal(200);
    await create(r);
  });

  it("the operator lists any reseller's keys, revokes one (its last included) and issues a new one", async () => {
    const r = await reseller();
    const other = await reseller();
    const op = as(OPERATOR_KEY);
    const listed = await op.get(`/v1/admin/resellers/${r.username}/api-keys`);
    expect(listed.status).to.equal(200);
    expect(listed.body.items).to.have.length(1);
    expect(listed.body.items[0]).to.include({ prefix: r.key.slice(0, 8), current: false, created_via: 'signup' });
    const keyId = listed.body.items[0].id as string;
    const session = await signIn(r.key);
    expect(await session()).to.equal(200);

    // Another reseller's key under this username: 404, nothing revoked.
    const [otherKey] = await list(other.key);
    expect((await op.post(`/v1/admin/resellers/${r.username}/api-keys/${otherKey.id}/revoke`)).status).to.equal(404);
    const unknown = await op.get('/v1/admin/resellers/no-such-reseller/api-keys');
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error.code).to.equal('unknown_reseller');
    expect(await meStatus(other.key)).to.equal(200);

    const revoked = await op.post(`/v1/admin/resellers/${r.username}/api-keys/${keyId}/revoke`);
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
    expect(revoked.body).to.include({ id: keyId, revoked_via: 'operator' });
    expect(await meStatus(r.key)).to.equal(401);
    expect(await session()).to.equal(401);

    const issued = await op.post(`/v1/admin/resellers/${r.username}/api-keys`, { label: 'after the leak' });
    expect(issued.status, JSON.stringify(issued.body)).to.equal(201);
    expect(issued.body).to.include({ created_via: 'operator', label: 'after the leak' });
    expect(await meStatus(issued.body.api_key)).to.equal(200);
    const mine = await list(issued.body.api_key);
    expect(mine.map((k) => [k.id === keyId, k.revoked_via, k.current])).to.deep.equal([
      [true, 'operator', false],
      [false, null, true],
    ]);
  });
});

describe('operator key rotation (ADMIN_API_KEY_PREVIOUS)', () => {
  const NEW_KEY = 'test-operator-key-NEW-9876543210';
  const lines: string[] = [];
  const log = createLogger('warn', {}, { write: (line: string) => void lines.push(line) });
  const basic = (key: string) => `Basic ${Buffer.from(`operator:${key}`).toString('base64')}`;

  it('the previous key works beside the new one, each use logged, and is refused once unset', async () => {
    const rotating = await startSystem({ worker: false, log, config: { ADMIN_API_KEY: NEW_KEY, ADMIN_API_KEY_PREVIOUS: OPERATOR_KEY } });
    try {
      for (const key of [NEW_KEY, OPERATOR_KEY]) {
        const res = await rotating.http().get('/v1/admin/resellers').set('Authorization', `Bearer ${key}`);
        expect(res.status, key).to.equal(200);
        expect((await rotating.http().get('/admin/emails').set('Authorization', basic(key))).status, `mailbox ${key}`).to.equal(200);
      }
      expect((await rotating.http().get('/v1/admin/resellers').set('Authorization', 'Bearer test-operator-key-wrong-000')).status).to.equal(
        401,
      );
      const warned = lines.filter((l) => l.includes('previous_operator_key_used'));
      expect(warned, lines.join('\n')).to.have.length(2);
      expect(warned[0]).to.include('GET /v1/admin/resellers');
      expect(lines.join('\n')).to.not.include(OPERATOR_KEY);
      expect(lines.join('\n')).to.not.include(NEW_KEY);
    } finally {
      await rotating.stop();
    }

    const rotated = await startSystem({ worker: false, config: { ADMIN_API_KEY: NEW_KEY } });
    try {
      expect((await rotated.http().get('/v1/admin/resellers').set('Authorization', `Bearer ${OPERATOR_KEY}`)).status).to.equal(401);
      expect((await rotated.http().get('/admin/emails').set('Authorization', basic(OPERATOR_KEY))).status).to.equal(401);
      expect((await rotated.http().get('/v1/admin/resellers').set('Authorization', `Bearer ${NEW_KEY}`)).status).to.equal(200);
    } finally {
      await rotated.stop();
    }
  });
});
