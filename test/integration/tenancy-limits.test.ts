import zlib from 'node:zlib';
import { expect } from 'chai';
import knexFactory from 'knex';
import type { ParsedMail } from 'mailparser';
import type { Response } from 'supertest';
import { authorize, importDomains, makeReseller, snapshot, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/** Sharing a deployment (issue 7): bounded bodies, fields, lists and errors; no input is a 500; headers; look-ups. */

function expectError(res: Response, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body).slice(0, 2000)).to.equal(status);
  expect(res.body.error.code, JSON.stringify(res.body).slice(0, 2000)).to.equal(code);
  expect(res.body.error.message).to.be.a('string').and.not.equal('');
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
  return res.body.error as { code: string; message: string; details?: any };
}
// biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
const paths = (e: { details?: any }) => (e.details?.fields ?? []).map((f: { path: string }) => f.path);

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}

describe('tenancy: bounded requests, clean errors, safe headers and look-ups', () => {
  let sys: TestSystem;
  let acme: TestReseller;
  let beta: TestReseller;
  const as = (who: TestReseller) => ({ Authorization: `Bearer ${who.key}` });
  const op = { Authorization: `Bearer ${OPERATOR_KEY}` };

  /** Asserts the refusal and that nothing a tenant owns changed (jobs, items, domains, brands, profiles, queue, resellers). */
  async function refused(send: () => Promise<Response>, status: number, code: string) {
    const before = { ...(await snapshot(sys)), resellers: await sys.db('resellers').orderBy('id').select('*') };
    const res = await send();
    const error = expectError(res, status, code);
    expect({ ...(await snapshot(sys)), resellers: await sys.db('resellers').orderBy('id').select('*') }).to.deep.equal(before);
    return error;
  }

  before(async () => {
    sys = await startSystem({ config: { METRICS_TOKEN: 'metrics-token-0123456789' } });
    acme = await makeReseller(sys, 'acme');
    beta = await makeReseller(sys, 'beta');
    await authorize(sys, beta, acme);
  });
  after(() => sys?.stop());

  describe('1. no request can exhaust memory', () => {
    it('a 20 MB brand settings blob is refused by the body limit (413 payload_too_large), nothing written', async () => {
      const blob = { data: 'x'.repeat(20 * 1024 * 1024) };
      await refused(() => sys.http().post('/v1/brands').set(as(acme)).send({ name: 'Huge', settings: blob }), 413, 'payload_too_large');
    });

    it('brand settings over 16 KB or nested deeper than 8 levels are refused with 400 naming body.settings', async () => {
      const big = await refused(
        () =>
          sys
            .http()
            .post('/v1/brands')
            .set(as(acme))
            .send({ name: 'Big', settings: { data: 'x'.repeat(40 * 1024) } }),
        400,
        'invalid_request',
      );
      expect(paths(big)).to.deep.equal(['body.settings']);
      const deep = await refused(
        () =>
          sys
            .http()
            .post('/v1/brands')
            .set(as(acme))
            .send({ name: 'Deep', settings: nested(12) }),
        400,
        'invalid_request',
      );
      expect(paths(deep)).to.deep.equal(['body.settings']);
      const ok = await sys
        .http()
        .post('/v1/brands')
        .set(as(acme))
        .send({ name: 'Fine', settings: nested(5) });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    });

    it("a reseller's default_settings and a profile's contact are bounded the same way", async () => {
      const e = await refused(
        () =>
          sys
            .http()
            .patch('/v1/admin/resellers/acme')
            .set(op)
            .send({ default_settings: { data: 'y'.repeat(20 * 1024) } }),
        400,
        'invalid_request',
      );
      expect(paths(e)).to.deep.equal(['body.default_settings']);
      const c = await refused(
        () =>
          sys
            .http()
            .post('/v1/profiles')
            .set(as(acme))
            .send({ domain: 'p.example', username: 'p1', password: 'long-enough-pw', contact: { first_name: 'z'.repeat(5000) } }),
        400,
        'invalid_request',
      );
      expect(paths(c)).to.deep.equal(['body.contact.first_name']);
    });

    it('a submit takes a body of a few MB; every other route stops at 64 KB', async () => {
      // 4,000 names is about 100 KB: fine for a (dry-run) submit, too much for anything else.
      const names = Array.from({ length: 4000 }, (_, i) => `size-${String(i).padStart(5, '0')}-${'a'.repeat(8)}.example`);
      const dry = await submit(sys, acme, { gaining_reseller: 'beta', domains: names, dry_run: true });
      expect(dry.status, JSON.stringify(dry.body).slice(0, 500)).to.equal(200);
      expect(dry.body.total).to.equal(4000);
      await refused(
        () =>
          sys
            .http()
            .post('/v1/customers')
            .set(as(acme))
            .send({ name: 'n', address: names.join(',') }),
        413,
        'payload_too_large',
      );
    });

    it('/v1/brands is paginated with limit and cursor', async () => {
      for (const name of ['Page A', 'Page B', 'Page C']) {
        expect((await sys.http().post('/v1/brands').set(as(beta)).send({ name })).status).to.equal(201);
      }
      const first = await sys.http().get('/v1/brands').query({ limit: 2 }).set(as(beta));
      expect(first.status).to.equal(200);
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
      expect(first.body.items.map((b: any) => b.name)).to.deep.equal(['Page A', 'Page B']);
      expect(first.body.next_cursor).to.be.a('string');
      const second = await sys.http().get('/v1/brands').query({ limit: 2, cursor: first.body.next_cursor }).set(as(beta));
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
      expect(second.body.items.map((b: any) => b.name)).to.deep.equal(['Page C']);
      expect(second.body.next_cursor).to.equal(null);
      const resellers = await sys.http().get('/v1/admin/resellers').query({ limit: 1 }).set(op);
      expect(resellers.body.items).to.have.length(1);
      expect(resellers.body.next_cursor).to.be.a('string');
    });

    it('the domain list references brands by id and leaves layouts out; the single domain view has the layout', async () => {
      const settings = { theme: 'list-test', blob: 'b'.repeat(10_000) };
      const brand = await sys.http().post('/v1/brands').set(as(acme)).send({ name: 'Listed', settings });
      expect(brand.status).to.equal(201);
      await importDomains(sys, [{ name: 'listed-1.example', reseller: 'acme', brand: 'Listed' }]);
      const list = await sys.http().get('/v1/domains').query({ q: 'listed-1' }).set(as(acme));
      expect(list.status).to.equal(200);
      expect(list.body.items).to.have.length(1);
      expect(list.body.items[0].brand).to.include({ id: brand.body.id });
      expect(list.body.items[0]).to.not.have.property('layout');
      expect(list.text).to.not.include('bbbbbbbbbb');
      const one = await sys.http().get('/v1/domains/listed-1.example').set(as(acme));
      expect(one.body.layout).to.deep.equal(settings);
    });

    it('invalid_domains lists at most 100 entries, each value cut short, with the total count', async () => {
      const bad = Array.from({ length: 500 }, (_, i) => `bad_${i}_${'q'.repeat(5000)}`);
      const e = await refused(() => submit(sys, acme, { gaining_reseller: 'beta', domains: bad }), 400, 'invalid_domains');
      expect(e.details.invalid).to.have.length(100);
      expect(e.details.invalid_count).to.equal(500);
      expect(e.details.invalid[0].position).to.equal(1);
      for (const i of e.details.invalid) expect(i.value.length).to.be.at.most(101);
      expect(JSON.stringify(e).length).to.be.below(30_000);
    });

    it('the duplicates a submit reports back are capped at 100; duplicates_removed has the total', async () => {
      const twice = Array.from({ length: 300 }, (_, i) => `dup-${i}.example`);
      const res = await submit(sys, acme, { gaining_reseller: 'beta', domains: [...twice, ...twice], dry_run: true });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(200);
      expect(res.body.duplicates_removed).to.equal(300);
      expect(res.body.duplicates).to.have.length(100);
    });

    it('a body with thousands of wrong fields answers at most 100 field errors and the total', async () => {
      const e = await refused(
        () => submit(sys, acme, { gaining_reseller: 'beta', domains: Array.from({ length: 3000 }, (_, i) => i) }),
        400,
        'invalid_request',
      );
      expect(e.details.fields).to.have.length(100);
      expect(e.details.total).to.equal(3000);
      expect(e.message.length).to.be.below(10_000);
    });
  });

  describe('5. every bad input is a 4xx, never a 500', () => {
    const HUGE_ID = '99999999999999999999999';

    it('an id above the 64-bit range is 404 for brands and emails', async () => {
      await refused(() => sys.http().patch(`/v1/brands/${HUGE_ID}`).set(as(acme)).send({ name: 'x' }), 404, 'not_found');
      await refused(() => sys.http().get(`/v1/admin/emails/${HUGE_ID}`).set(op), 404, 'not_found');
      await refused(() => sys.http().get(`/v1/customers/${HUGE_ID}`).set(as(acme)), 404, 'not_found');
    });

    it('a cursor decoding to a huge number is 400 invalid_request on every list', async () => {
      const cursor = Buffer.from(HUGE_ID).toString('base64url');
      const job = await submit(sys, acme, { gaining_reseller: 'beta', domains: ['cursor-job.example'] });
      expect(job.status).to.equal(202);
      await waitForJob(sys, acme, job.body.id);
      const customer = await sys.http().post('/v1/customers').set(as(acme)).send({ name: 'Cursor Co' });
      const lists: [string, Record<string, string>][] = [
        ['/v1/domains', as(acme)],
        ['/v1/profiles', as(acme)],
        ['/v1/brands', as(acme)],
        ['/v1/bulk-pushes', as(acme)],
        ['/v1/jobs', as(acme)],
        [`/v1/jobs/${job.body.id}/items`, as(acme)],
        ['/v1/customers', as(acme)],
        [`/v1/customers/${customer.body.id}/packages`, as(acme)],
        ['/v1/admin/emails', op],
        ['/v1/admin/resellers', op],
      ];
      for (const [path, headers] of lists) {
        const e = await refused(() => sys.http().get(path).query({ cursor }).set(headers), 400, 'invalid_request');
        expect(paths(e), path).to.deep.equal(['query.cursor']);
      }
    });

    it('an Idempotency-Key longer than 255 characters is 400; 255 is fine', async () => {
      await importDomains(sys, [{ name: 'idem-1.example', reseller: 'acme' }]);
      const body = { gaining_reseller: 'beta', domains: ['idem-1.example'] };
      const e = await refused(() => submit(sys, acme, body, { 'Idempotency-Key': 'k'.repeat(3000) }), 400, 'invalid_request');
      expect(paths(e)).to.deep.equal(['header.idempotency-key']);
      await refused(() => submit(sys, acme, body, { 'Idempotency-Key': 'k'.repeat(256) }), 400, 'invalid_request');
      const ok = await submit(sys, acme, body, { 'Idempotency-Key': 'k'.repeat(255) });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(202);
      await waitForJob(sys, acme, ok.body.id);
    });

    it('a body that is not valid for its Content-Encoding is 400; an unknown encoding is 415', async () => {
      for (const encoding of ['gzip', 'br', 'deflate']) {
        await refused(
          () =>
            sys
              .http()
              .post('/v1/brands')
              .set(as(acme))
              .set('Content-Type', 'application/json')
              .set('Content-Encoding', encoding)
              .send('{"name": "not compressed at all"}'),
          400,
          'invalid_request',
        );
      }
      await refused(
        () =>
          sys
            .http()
            .post('/v1/brands')
            .set(as(acme))
            .set('Content-Type', 'application/json')
            .set('Content-Encoding', 'zstd-nope')
            .send('{"name": "x"}'),
        415,
        'unsupported_media_type',
      );
      // A real gzip body still works, and its inflated size counts against the limit (no zip bomb).
      const gzipped = (body: unknown) =>
        fetch(`${sys.url}/v1/brands`, {
          method: 'POST',
          headers: { ...as(acme), 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
          body: zlib.gzipSync(JSON.stringify(body)),
        });
      const ok = await gzipped({ name: 'Gzipped' });
      expect(ok.status, await ok.clone().text()).to.equal(201);
      const bomb = { name: 'Bomb', settings: { z: '0'.repeat(10 * 1024 * 1024) } };
      expect(zlib.gzipSync(JSON.stringify(bomb)).length).to.be.below(64 * 1024);
      const before = await snapshot(sys);
      const refusedBomb = await gzipped(bomb);
      expect(refusedBomb.status).to.equal(413);
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
      expect(((await refusedBomb.json()) as any).error.code).to.equal('payload_too_large');
      expect(await snapshot(sys)).to.deep.equal(before);
    });

    it('JSON nested 5,000 deep is 400 invalid_request, in any body', async () => {
      const deep = `{"name":"Deep","settings":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
      for (const path of ['/v1/brands', '/v1/bulk-pushes']) {
        const e = await refused(
          () => sys.http().post(path).set(as(acme)).set('Content-Type', 'application/json').send(deep),
          400,
          'invalid_request',
        );
        expect(paths(e)).to.deep.equal(['body']);
      }
    });
  });

  describe('6. headers and exposure', () => {
    it('API answers carry nosniff and no-store (the 201 with an api_key above all), never X-Powered-By', async () => {
      const created = await sys
        .http()
        .post('/v1/admin/resellers')
        .set(op)
        .send({ username: 'headers-co', name: 'Headers', email: 'h@headers.example' });
      expect(created.status).to.equal(201);
      expect(created.body.api_key).to.be.a('string');
      for (const res of [created, await sys.http().get('/v1/me').set(as(acme)), await sys.http().get('/v1/nope').set(as(acme))]) {
        expect(res.headers['x-content-type-options']).to.equal('nosniff');
        expect(res.headers['cache-control']).to.equal('no-store');
        expect(res.headers).to.not.have.property('x-powered-by');
      }
    });

    it('the dashboard has frame and CSP headers and no X-Powered-By', async () => {
      const res = await sys.http().get('/admin/queues').auth('ops', OPERATOR_KEY);
      expect(res.status).to.equal(200);
      expect(res.headers['x-frame-options']).to.equal('DENY');
      expect(res.headers['content-security-policy']).to.include("frame-ancestors 'none'").and.include("script-src 'self'");
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers).to.not.have.property('x-powered-by');
    });

    it('/readyz says what is down without the raw connection error', async () => {
      const real = sys.rt.deps.db;
      const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} };
      const dead = knexFactory({
        client: 'pg',
        connection: 'postgres://postgres@127.0.0.1:1/nowhere',
        pool: { min: 0, max: 1 },
        log: quiet,
      });
      sys.rt.deps.db = dead;
      try {
        const res = await sys.http().get('/readyz');
        expect(res.status).to.equal(503);
        expect(res.body.checks).to.deep.equal({ postgres: 'down', redis: 'ok' });
        expect(res.text).to.not.match(/127\.0\.0\.1|ECONNREFUSED|connect/);
      } finally {
        sys.rt.deps.db = real;
        await dead.destroy();
      }
      expect((await sys.http().get('/readyz')).status).to.equal(200);
    });

    it('/metrics needs METRICS_TOKEN (the operator key is refused)', async () => {
      expectError(await sys.http().get('/metrics'), 401, 'unauthorized');
      expectError(await sys.http().get('/metrics').set(as(acme)), 401, 'unauthorized');
      const res = await sys.http().get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789');
      expect(res.status).to.equal(200);
      expect(res.text).to.match(/^domain_push_queue_depth\{/m);
      expectError(await sys.http().get('/metrics').set(op), 401, 'unauthorized');
    });

    it('DASHBOARD_READ_ONLY: the dashboard shows the queues but refuses to change them', async () => {
      const ro = await startSystem({ worker: false, config: { DASHBOARD_READ_ONLY: true } });
      try {
        const view = await ro.http().get('/admin/queues/api/queues').auth('ops', OPERATOR_KEY);
        expect(view.status).to.equal(200);
        expect(view.body.queues[0].readOnlyMode).to.equal(true);
        const pause = await ro.http().put('/admin/queues/api/queues/pause').auth('ops', OPERATOR_KEY);
        expectError(pause, 403, 'dashboard_read_only');
        expect(await ro.rt.deps.queues.bulk.isPaused()).to.equal(false);
      } finally {
        await ro.stop();
      }
      // Without the flag the same call pauses (so the refusal above is the flag's doing); undo it.
      const pause = await sys.http().put('/admin/queues/api/queues/pause').auth('ops', OPERATOR_KEY);
      expect(pause.status).to.be.below(300);
      expect(await sys.rt.deps.queues.bulk.isPaused()).to.equal(true);
      await sys.rt.deps.queues.bulk.resume();
    });
  });

  describe('7. look-ups do not cross tenants by surprise', () => {
    it('a username can never take the all-digit form of a company_id', async () => {
      for (const username of ['1234567890', acme.company_id, '42']) {
        const e = await refused(
          () => sys.http().post('/v1/admin/resellers').set(op).send({ username, name: 'Digits', email: 'd@digits.example' }),
          400,
          'invalid_request',
        );
        expect(paths(e)).to.deep.equal(['body.username']);
      }
    });

    it("an all-digit handle is looked up as a company_id only, even if an old username equals another reseller's company_id", async () => {
      // A row from before the rule: its username is acme's company_id.
      await sys.db('resellers').insert({
        username: acme.company_id,
        company_id: '5550000001',
        name: 'Look-alike',
        email: 'l@lookalike.example',
        domain_push_enabled: true,
      });
      const gaining = await makeReseller(sys, 'lookup-gaining');
      const res = await sys.http().post('/v1/push-settings/allowed-resellers').set(as(gaining)).send({ reseller: acme.company_id });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include({ username: 'acme', company_id: acme.company_id });
      const byName = await sys.http().post('/v1/push-settings/allowed-resellers').set(as(gaining)).send({ reseller: 'beta' });
      expect(byName.body).to.include({ username: 'beta' });
      const allowed = await sys.http().get('/v1/push-settings').set(as(gaining));
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
      expect(allowed.body.allowed_resellers.map((r: any) => r.username)).to.deep.equal(['acme', 'beta']);
    });

    it('control characters are stripped from names that go into emails', async () => {
      const evil = 'Eve\r\nBcc: victim@elsewhere.example\u0007\u202eLtd';
      const customer = await sys.http().post('/v1/customers').set(as(acme)).send({ name: evil, email: 'eve@customer.example' });
      expect(customer.status, JSON.stringify(customer.body)).to.equal(201);
      expect(customer.body.name).to.equal('Eve Bcc: victim@elsewhere.example Ltd');
      const renamed = await sys.http().patch('/v1/admin/resellers/acme').set(op).send({ name: 'Acme\nInjected: yes' });
      expect(renamed.body.name).to.equal('Acme Injected: yes');
      const rel = await sys.http().post(`/v1/customers/${customer.body.id}/release`).set(as(acme)).send({});
      expect(rel.status, JSON.stringify(rel.body)).to.equal(202);
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
      const mail: ParsedMail = await sys.smtp.waitFor((m) => String((m.to as any)?.text) === 'eve@customer.example');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the control characters that must be stripped
      expect(mail.subject).to.not.match(/[\u0000-\u001f\u202e]/);
      expect(mail.text).to.include('Hello Eve Bcc: victim@elsewhere.example Ltd,');
      expect(mail.headers.has('bcc')).to.equal(false);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the control characters that must be stripped
      expect(mail.text).to.not.match(/[\u0007\u202e]/);
    });
  });
});
