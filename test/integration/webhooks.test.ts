import { expect } from 'chai';
import { recordEvents } from '../../shared/events/events';
import { attachmentRenderers } from '../../shared/bulk/results-attachment';
import { relayOutbox } from '../../shared/mail/outbox';
import type { Config } from '../../shared/platform/config';
import { createLogger } from '../../shared/platform/logger';
import { systemResolver, type Resolver } from '../../shared/webhooks/address-guard';
import { purgeWebhookLog, relayWebhooks } from '../../shared/webhooks/relay';
import { verifySignature } from '../../shared/webhooks/signature';
import { makeReseller, type TestReseller } from '../helpers/fixtures';
import { toText } from '../helpers/smtp';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { startReceiver, type Receiver } from './webhooks-receiver';

const log = createLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent', { role: 'test-webhooks' });

/** Names the test's DNS answers with addresses a receiver must never be reached at. */
const FAKE_DNS: Record<string, string[]> = {
  'internal.test': ['10.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '10.0.0.1'],
  'cgnat.test': ['100.64.1.1'],
  'ula.test': ['fd12:3456::1'],
};
const resolve: Resolver = async (host) =>
  FAKE_DNS[host] ? FAKE_DNS[host].map((address) => ({ address, family: address.includes(':') ? 6 : 4 })) : systemResolver(host);

/**
 * Issue 21 parts 1–3: endpoints through the API, deliveries by the relay every worker runs
 * (relayWebhooks, in-process here with short bounds) to real HTTP receivers on loopback.
 */
describe('webhooks: signed, retried, ordered deliveries to real receivers; never to a private address', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let n = 0;
  const receivers: Receiver[] = [];
  let stopRelay: (() => Promise<void>) | undefined;

  before(async () => {
    sys = await startSystem({ worker: false });
  });
  afterEach(async () => {
    await stopRelay?.();
    stopRelay = undefined;
    for (const r of receivers.splice(0)) await r.close();
    await sys.db('webhook_deliveries').del();
    await sys.db('webhook_endpoints').del();
  });
  after(() => sys?.stop());

  /** The relay as a worker runs it, with short bounds, until the test ends. */
  function relay(overrides: Partial<Config> = {}) {
    const config: Config = {
      ...sys.config,
      WEBHOOK_TIMEOUT_MS: 400,
      WEBHOOK_RETRY_BASE_MS: 20,
      WEBHOOK_RETRY_CAP_MS: 100,
      WEBHOOK_RATE_PER_SECOND: 1000,
      ...overrides,
    };
    let stopped = false;
    const done = (async () => {
      while (!stopped) {
        await relayWebhooks({ db: sys.db, config, log, resolve, metrics: sys.rt.deps.metrics });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    stopRelay = async () => {
      stopped = true;
      await done;
    };
  }

  const reseller = () => makeReseller(sys, `hooks-${process.pid % 1000}-${++n}`, { push: false });
  const as = (who: TestReseller) => ({
    get: (path: string) => sys.http().get(path).set('Authorization', `Bearer ${who.key}`),
    post: (path: string, body?: object) => sys.http().post(path).set('Authorization', `Bearer ${who.key}`).send(body),
    patch: (path: string, body: object) => sys.http().patch(path).set('Authorization', `Bearer ${who.key}`).send(body),
    delete: (path: string) => sys.http().delete(path).set('Authorization', `Bearer ${who.key}`),
  });
  async function receiver(answer?: Receiver['answer']) {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  }
  async function endpoint(who: TestReseller, url: string, types = ['api_key.created', 'api_key.revoked']) {
    const res = await as(who).post('/v1/webhooks', { url, event_types: types });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; secret: string };
  }
  const newKey = async (who: TestReseller) => expect((await as(who).post('/v1/api-keys', { label: 'hooked' })).status).to.equal(201);
  const deliveries = async (who: TestReseller, id: string) => {
    const res = await as(who).get(`/v1/webhooks/${id}/deliveries`);
    expect(res.status).to.equal(200);
    return res.body.items as Record<string, unknown>[];
  };

  it('an event arrives once, signed (t=…,v1=…) with the secret shown only at creation, its Webhook-Id equal to the id in its body', async () => {
    const who = await reseller();
    const rx = await receiver();
    const ep = await endpoint(who, rx.url);
    expect(ep.secret).to.match(/^whsec_/);
    rx.secret = ep.secret;
    const listed = await as(who).get('/v1/webhooks');
    expect(listed.body.items).to.have.length(1);
    expect(JSON.stringify(listed.body)).not.to.include(ep.secret);
    expect(JSON.stringify((await as(who).get(`/v1/webhooks/${ep.id}`)).body)).not.to.include(ep.secret);
    // At rest the secret is encrypted, not stored as it is.
    const row = await sys.db('webhook_endpoints').where({ id: ep.id }).first();
    expect(row.secret_box).not.to.include(ep.secret.slice(6));

    relay();
    await newKey(who);
    const got = await waitUntil(() => rx.received[0], { label: 'the api_key.created delivery' });
    expect(got.type).to.equal('api_key.created');
    expect(got.id).to.match(/^evt_/).and.equal(got.json.id);
    expect(got.headers['webhook-event']).to.equal('api_key.created');
    expect(got.verified, 'signature verifies with the secret').to.equal(true);
    expect(verifySignature('whsec_wrong', String(got.headers['webhook-signature']), got.body).ok).to.equal(false);
    expect(verifySignature(ep.secret, String(got.headers['webhook-signature']), `${got.body} `).ok).to.equal(false);
    expect(got.json.data).to.include({ label: 'hooked', via: 'reseller' });
    const [log1] = await waitUntil(async () => {
      const d = await deliveries(who, ep.id);
      return d[0]?.status === 'delivered' && d;
    });
    expect(log1).to.include({ status: 'delivered', attempts: 1, response_status: 200, event_id: got.id, next_attempt_at: null });
    expect(log1.duration_ms).to.be.a('number');
    expect(rx.received).to.have.length(1);
    const counted = await sys.rt.deps.metrics.registry.getSingleMetricAsString('domain_push_webhook_deliveries_total');
    expect(counted).to.match(/outcome="delivered"} [1-9]/);
  });

  it('after two 500s the third try delivers: the same event id three times, one after de-duplication', async () => {
    const who = await reseller();
    const rx = await receiver((_r, nth) => ({ status: nth <= 2 ? 500 : 200 }));
    const ep = await endpoint(who, rx.url);
    relay();
    await newKey(who);
    const [d] = await waitUntil(async () => {
      const l = await deliveries(who, ep.id);
      return l[0]?.status === 'delivered' && l;
    });
    expect(d).to.include({ attempts: 3, response_status: 200 });
    expect(rx.received.map((r) => r.id)).to.deep.equal([d.event_id, d.event_id, d.event_id]);
    expect(rx.unique().size).to.equal(1);
  });

  it('a receiver that answers after the timeout gets the event again (same id): de-duplicated, it has it once', async () => {
    const who = await reseller();
    const rx = await receiver((_r, nth) => ({ status: 200, delayMs: nth === 1 ? 3_000 : 0 }));
    const ep = await endpoint(who, rx.url);
    relay({ WEBHOOK_TIMEOUT_MS: 300 });
    await newKey(who);
    const [d] = await waitUntil(async () => {
      const l = await deliveries(who, ep.id);
      return l[0]?.status === 'delivered' && l;
    });
    expect(d.attempts).to.equal(2);
    expect(rx.received).to.have.length(2);
    expect(rx.unique().size).to.equal(1);
  });

  it('a 302 is a failure: the redirect is not followed, its target sees nothing', async () => {
    const who = await reseller();
    const target = await receiver();
    const rx = await receiver(() => ({ status: 302, headers: { location: target.url } }));
    const ep = await endpoint(who, rx.url);
    relay();
    await newKey(who);
    const [d] = await waitUntil(async () => {
      const l = await deliveries(who, ep.id);
      return Number(l[0]?.attempts) >= 2 && l;
    });
    expect(d.status).to.equal('pending');
    expect(d.response_status).to.equal(302);
    expect(String(d.last_error)).to.match(/redirects are not followed/);
    expect(target.received).to.have.length(0);
  });

  it('a host resolving to a private, link-local, CGNAT or unique-local address (or one of them among public ones) is refused at delivery time', async () => {
    const who = await reseller();
    const eps = [];
    for (const host of Object.keys(FAKE_DNS)) eps.push({ host, ep: await endpoint(who, `https://${host}/hook`) });
    relay();
    await newKey(who);
    for (const { host, ep } of eps) {
      const [d] = await waitUntil(async () => {
        const l = await deliveries(who, ep.id);
        return (l[0]?.last_error ? l : null) as Record<string, unknown>[] | null;
      });
      expect(d.status).to.equal('pending');
      expect(d.response_status).to.equal(null);
      expect(String(d.last_error)).to.match(
        new RegExp(`^refused: ${host.replace('.', '\\.')} resolves to .* (private|link-local|reserved)`),
      );
    }
  });

  it('loopback not allowed (production): an http://127.0.0.1 endpoint gets nothing, the log says why', async () => {
    const who = await reseller();
    const rx = await receiver();
    const ep = await endpoint(who, rx.url);
    relay({ WEBHOOK_ALLOW_INSECURE_LOOPBACK: false });
    await newKey(who);
    const [d] = await waitUntil(async () => {
      const l = await deliveries(who, ep.id);
      return (l[0]?.last_error ? l : null) as Record<string, unknown>[] | null;
    });
    expect(String(d.last_error)).to.match(/127\.0\.0\.1 is a loopback address/);
    expect(rx.received).to.have.length(0);
  });

  it("a job's events reach an endpoint in order: a later one waits while an earlier one is retried; another job's goes on", async () => {
    const who = await reseller();
    // The job's first event fails until the other job's event has arrived: that one must not wait behind it.
    const rx = await receiver((r) => ({
      status: r.json.data.step === 1 && !rx.received.some((x) => x.json.data.step === 'other job') ? 503 : 200,
    }));
    await endpoint(who, rx.url, ['bulk_job.started', 'bulk_job.finished']);
    await sys.db.transaction((trx) =>
      recordEvents(trx, [
        { resellerId: who.id, type: 'bulk_job.started', jobId: '00000000-0000-4000-8000-000000990001', data: { step: 1 } },
        { resellerId: who.id, type: 'bulk_job.finished', jobId: '00000000-0000-4000-8000-000000990001', data: { step: 2 } },
        { resellerId: who.id, type: 'bulk_job.started', jobId: '00000000-0000-4000-8000-000000990002', data: { step: 'other job' } },
      ]),
    );
    relay();
    await waitUntil(() => rx.unique().size === 3, { label: 'three events delivered' });
    const steps = rx.received.map((r) => r.json.data.step);
    expect(steps.filter((s) => s === 1).length, 'step 1 failed at least once').to.be.at.least(2);
    expect(steps.filter((s) => s === 2)).to.have.length(1);
    expect(steps.lastIndexOf(1), 'step 2 only after step 1 was delivered').to.be.below(steps.indexOf(2));
  });

  it('an endpoint failing past WEBHOOK_DISABLE_AFTER_MS is disabled, its pending deliveries given up, its owner emailed; enable + redeliver send again', async () => {
    const who = await reseller();
    let failing = true;
    const rx = await receiver(() => ({ status: failing ? 500 : 200 }));
    const ep = await endpoint(who, rx.url);
    relay({ WEBHOOK_DISABLE_AFTER_MS: 300, WEBHOOK_MAX_ATTEMPTS: 100 });
    await newKey(who);
    await newKey(who);
    const disabled = await waitUntil(async () => {
      const res = await as(who).get(`/v1/webhooks/${ep.id}`);
      return res.body.enabled === false && res.body;
    });
    expect(disabled.disabled_reason).to.match(/^failing since .*HTTP 500/);
    const log1 = await deliveries(who, ep.id);
    expect(log1.map((d) => d.status)).to.deep.equal(['failed', 'failed']);
    const mailed = (await waitUntil(async () => {
      await relayOutbox({
        db: sys.db,
        mailer: sys.rt.deps.mailer,
        from: sys.config.SMTP_FROM,
        log,
        renderers: attachmentRenderers(sys.rt.deps.kinds),
      });
      return sys.smtp.messages.find((m) => toText(m).includes(`ops@${who.username}.example`) && /disabled/.test(m.subject ?? ''));
    }))!;
    expect(mailed.text).to.include(rx.url);

    // Redeliver refuses while disabled; enabled again it sends the same event (same id).
    const refused = await as(who).post(`/v1/webhooks/${ep.id}/deliveries/${log1[0].id}/redeliver`);
    expect(refused.status).to.equal(409);
    expect(refused.body.error.code).to.equal('webhook_disabled');
    failing = false;
    const enabled = await as(who).patch(`/v1/webhooks/${ep.id}`, { enabled: true });
    expect(enabled.body).to.include({ enabled: true, disabled_reason: null, failing_since: null });
    const again = await as(who).post(`/v1/webhooks/${ep.id}/deliveries/${log1[0].id}/redeliver`);
    expect(again.status).to.equal(202);
    expect(again.body).to.include({ status: 'pending', event_id: log1[0].event_id });
    await waitUntil(() => rx.received.some((r) => r.id === log1[0].event_id && rx.received.at(-1)?.id === r.id && !failing));
    await waitUntil(async () => (await deliveries(who, ep.id)).find((d) => d.id === log1[0].id)?.status === 'delivered');
  });

  it('update and delete: url, event types, disable (gives up pending), delete (404 after)', async () => {
    const who = await reseller();
    const rx = await receiver();
    const ep = await endpoint(who, rx.url);
    const up = await as(who).patch(`/v1/webhooks/${ep.id}`, { event_types: ['api_key.revoked'], description: 'CRM' });
    expect(up.status).to.equal(200);
    expect(up.body).to.include({ description: 'CRM' });
    expect(up.body.event_types).to.deep.equal(['api_key.revoked']);
    await newKey(who); // not a type it takes: no delivery
    expect(await deliveries(who, ep.id)).to.have.length(0);
    const off = await as(who).patch(`/v1/webhooks/${ep.id}`, { enabled: false });
    expect(off.body).to.include({ enabled: false, disabled_reason: 'disabled by the reseller' });
    expect((await as(who).delete(`/v1/webhooks/${ep.id}`)).status).to.equal(204);
    expect((await as(who).get(`/v1/webhooks/${ep.id}`)).status).to.equal(404);
  });

  it('an event no endpoint takes is not stored; the log keeps finished deliveries WEBHOOK_LOG_RETENTION_DAYS, pending ones always', async () => {
    const who = await reseller();
    const nobody = await reseller();
    await recordEvents(sys.db, [{ resellerId: nobody.id, type: 'api_key.created', data: {} }]);
    expect(Number((await sys.db('events').where({ reseller_id: nobody.id }).count({ n: '*' }))[0].n)).to.equal(0);

    const rx = await receiver();
    const ep = await endpoint(who, rx.url);
    await recordEvents(sys.db, [
      { resellerId: who.id, type: 'api_key.created', data: { n: 1 } },
      { resellerId: who.id, type: 'api_key.created', data: { n: 2 } },
    ]);
    const first = await sys.db('webhook_deliveries').where({ endpoint_id: ep.id }).orderBy('id').first('id', 'event_id');
    await sys.db('webhook_deliveries').where({ id: first.id }).update({ status: 'delivered' });
    await sys
      .db('webhook_deliveries')
      .where({ endpoint_id: ep.id })
      .update({ created_at: sys.db.raw("now() - interval '31 days'") });
    await sys
      .db('events')
      .where({ reseller_id: who.id })
      .update({ created_at: sys.db.raw("now() - interval '31 days'") });
    expect(await purgeWebhookLog(sys.db, 30)).to.deep.equal({ deliveries: 1, events: 1 });
    const left = await sys.db('webhook_deliveries').where({ endpoint_id: ep.id }).select('id', 'status');
    expect(left).to.have.length(1);
    expect(left[0]).to.include({ status: 'pending' });
    expect(await sys.db('events').where({ id: first.event_id }).first()).to.equal(undefined);
  });

  describe('bad input: a clear 4xx with its code, and nothing changed', () => {
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['not a URL', { url: 'not a url', event_types: ['api_key.created'] }, 400, 'invalid_url'],
      ['ftp', { url: 'ftp://hooks.example.com/x', event_types: ['api_key.created'] }, 400, 'insecure_url'],
      ['http to a public host', { url: 'http://hooks.example.com/x', event_types: ['api_key.created'] }, 400, 'insecure_url'],
      ['a password in the URL', { url: 'https://u:p@hooks.example.com/x', event_types: ['api_key.created'] }, 400, 'invalid_url'],
      ['a private address', { url: 'https://10.1.2.3/x', event_types: ['api_key.created'] }, 400, 'private_address'],
      ['the metadata address', { url: 'https://169.254.169.254/latest', event_types: ['api_key.created'] }, 400, 'private_address'],
      ['a mapped private address', { url: 'https://[::ffff:192.168.1.1]/x', event_types: ['api_key.created'] }, 400, 'private_address'],
      ['an unknown event type', { url: 'https://hooks.example.com/x', event_types: ['domain.deleted'] }, 400, 'invalid_request'],
      ['no event type', { url: 'https://hooks.example.com/x', event_types: [] }, 400, 'invalid_request'],
      [
        'an unknown field',
        { url: 'https://hooks.example.com/x', event_types: ['api_key.created'], secret: 'mine' },
        400,
        'invalid_request',
      ],
    ];
    for (const [what, body, status, code] of cases)
      it(`create with ${what} → ${status} ${code}`, async () => {
        const who = await reseller();
        const res = await as(who).post('/v1/webhooks', body);
        expect(res.status, JSON.stringify(res.body)).to.equal(status);
        expect(res.body.error.code).to.equal(code);
        expect(Number((await sys.db('webhook_endpoints').where({ reseller_id: who.id }).count({ n: '*' }))[0].n)).to.equal(0);
      });

    it('an eleventh endpoint → 409 too_many_webhooks; a bad update → 400 and the endpoint unchanged; another reseller’s → 404', async () => {
      const who = await reseller();
      const other = await reseller();
      for (let i = 0; i < 10; i++) await endpoint(who, `https://hooks.example.com/${i}`);
      const res = await as(who).post('/v1/webhooks', { url: 'https://hooks.example.com/11', event_types: ['api_key.created'] });
      expect(res.status).to.equal(409);
      expect(res.body.error.code).to.equal('too_many_webhooks');
      expect(Number((await sys.db('webhook_endpoints').where({ reseller_id: who.id }).count({ n: '*' }))[0].n)).to.equal(10);

      const [first] = (await as(who).get('/v1/webhooks')).body.items;
      for (const [body, code] of [
        [{ url: 'https://192.168.0.10/' }, 'private_address'],
        [{ event_types: ['nope'] }, 'invalid_request'],
        [{}, 'invalid_request'],
      ] as const) {
        const bad = await as(who).patch(`/v1/webhooks/${first.id}`, body);
        expect(bad.status).to.equal(400);
        expect(bad.body.error.code).to.equal(code);
      }
      expect((await as(who).get(`/v1/webhooks/${first.id}`)).body).to.deep.equal(first);
      expect((await as(other).get(`/v1/webhooks/${first.id}`)).status).to.equal(404);
      expect((await as(other).delete(`/v1/webhooks/${first.id}`)).status).to.equal(404);
      expect((await as(other).get(`/v1/webhooks/${first.id}/deliveries`)).status).to.equal(404);
      expect((await as(who).post(`/v1/webhooks/${first.id}/deliveries/99999/redeliver`)).status).to.equal(404);
      expect((await as(who).get('/v1/webhooks/abc')).status).to.equal(404);
    });
  });

  describe('in production (WEBHOOK_ALLOW_INSECURE_LOOPBACK off)', () => {
    let prod: TestSystem;
    before(async () => {
      prod = await startSystem({ worker: false, config: { NODE_ENV: 'production' } });
    });
    after(() => prod?.stop());

    for (const [url, code] of [
      ['http://127.0.0.1:8080/hook', 'insecure_url'],
      ['http://localhost:8080/hook', 'insecure_url'],
      ['https://localhost/hook', 'private_address'],
      ['https://127.0.0.1/hook', 'private_address'],
      ['https://[::1]/hook', 'private_address'],
      ['https://[fd00::1]/hook', 'private_address'],
    ])
      it(`${url} → 400 ${code}, nothing created`, async () => {
        const who = await makeReseller(prod, `prodhooks-${process.pid % 1000}-${++n}`, { push: false });
        const res = await prod
          .http()
          .post('/v1/webhooks')
          .set('Authorization', `Bearer ${who.key}`)
          .send({ url, event_types: ['api_key.created'] });
        expect(res.status).to.equal(400);
        expect(res.body.error.code).to.equal(code);
        expect(Number((await prod.db('webhook_endpoints').count({ n: '*' }))[0].n)).to.equal(0);
      });

    it('without WEBHOOK_SECRET_KEY a public https endpoint → 503 webhooks_not_configured naming the setting, nothing created; with it, 201', async () => {
      const who = await makeReseller(prod, `prodhooks-${process.pid % 1000}-${++n}`, { push: false });
      const body = { url: 'https://hooks.example.com/domain-push', event_types: ['api_key.created'] };
      const res = await prod.http().post('/v1/webhooks').set('Authorization', `Bearer ${who.key}`).send(body);
      expect(res.status).to.equal(503);
      expect(res.body.error.code).to.equal('webhooks_not_configured');
      expect(res.body.error.message).to.contain('WEBHOOK_SECRET_KEY');
      expect(Number((await prod.db('webhook_endpoints').count({ n: '*' }))[0].n)).to.equal(0);

      const keyed = await startSystem({ worker: false, config: { NODE_ENV: 'production', WEBHOOK_SECRET_KEY: 'k'.repeat(40) } });
      try {
        const other = await makeReseller(keyed, `prodhooks-${process.pid % 1000}-${++n}`, { push: false });
        const made = await keyed.http().post('/v1/webhooks').set('Authorization', `Bearer ${other.key}`).send(body);
        expect(made.status, JSON.stringify(made.body)).to.equal(201);
        expect(made.body.secret).to.match(/^whsec_/);
      } finally {
        await keyed.db('webhook_endpoints').del();
        await keyed.stop();
      }
    });
  });
});
