import type { Server } from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import { closeApp, createApp } from '../../api/app';
import { openApiDocument } from '../../api/docs';
import { listRoutes, openApiPath, routeKey } from '../../api/openapi/document';
import { OPERATIONS } from '../../api/openapi/operations';
import { apiRoutes } from '../../api/routes';
import { authorize, makeReseller, names, type TestReseller, waitForJob } from '../helpers/fixtures';
import { checkAgainst, type Recorded, recordingServer } from '../helpers/openapi';
import { waitUntil } from '../helpers/resilience';
import { jobStreamsOf } from '../helpers/streams';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/**
 * The OpenAPI document covers the route table, and real answers of the main flows
 * (successes and refusals) match it — a shape or an error code that drifts fails here.
 */
describe('OpenAPI document', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let server: Server;
  let app: ReturnType<typeof createApp>;
  let recorded: Recorded[];
  let http: () => ReturnType<typeof request>;
  // The parsed document: JSON walked by path below, not worth a full OpenAPI type here.
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON document
  let doc: any;
  let origin: string;

  before(async () => {
    sys = await startSystem({ config: { CHUNK_SIZE: 5, METRICS_TOKEN: 'metrics-token-0123456789' } });
    app = createApp(sys.rt.deps);
    const rec = await recordingServer(app);
    server = rec.server;
    recorded = rec.recorded;
    origin = rec.url;
    http = () => request(rec.url);
    doc = (await http().get('/v1/openapi.json').expect(200)).body;
  });
  after(async () => {
    if (app) closeApp(app);
    await new Promise((r) => server?.close(r));
    await sys?.stop();
  });

  it('is OpenAPI 3.1 and lists every route of the route table, each documented, and nothing that is not a route', () => {
    expect(doc.openapi).to.equal('3.1.0');
    const routes = listRoutes(apiRoutes(sys.rt.deps, jobStreamsOf(sys)));
    expect(routes.length).to.be.above(40);
    for (const r of routes) {
      const op = doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()];
      expect(op, routeKey(r)).to.be.an('object');
      expect(op['x-undocumented'], `${routeKey(r)} has no operation: register it through a table of api/routes/`).to.equal(undefined);
    }
    const live = new Set(routes.map(routeKey));
    expect(
      Object.keys(OPERATIONS).filter((k) => !live.has(k)),
      'documented routes that do not exist',
    ).to.deep.equal([]);
    expect(doc).to.deep.equal(JSON.parse(JSON.stringify(openApiDocument(sys.rt.deps))));
  });

  it('describes request bodies with the validators the routes use (profile contact fields, domain_list, Idempotency-Key)', () => {
    const contact = doc.components.schemas.Contact.properties;
    expect(Object.keys(contact)).to.deep.equal(['first_name', 'last_name', 'org_name', 'email', 'phone', 'address', 'country']);
    const profileBody = doc.paths['/v1/profiles'].post.requestBody.content['application/json'].schema;
    expect(Object.keys(profileBody.properties.contact.properties)).to.deep.equal(Object.keys(contact));
    const submit = doc.paths['/v1/bulk-pushes'].post;
    const body = submit.requestBody.content['application/json'].schema;
    expect(body.additionalProperties).to.equal(false);
    expect(Object.keys(body.properties)).to.include.members(['gaining_reseller', 'domains', 'domain_list', 'all_domains', 'profile']);
    expect(submit.parameters.map((p: { name: string }) => p.name)).to.include('Idempotency-Key');
    expect(submit.responses['400'].content['application/json'].schema.properties.error.properties.code.enum).to.include.members([
      'invalid_request',
      'invalid_domains',
      'too_many_domains',
    ]);
    expect(submit.responses['415']).to.be.an('object');
    expect(doc.paths['/v1/jobs/{id}/items'].get.parameters.map((p: { name: string }) => p.name)).to.include.members([
      'id',
      'limit',
      'cursor',
      'status',
    ]);
  });

  describe('real answers match it', () => {
    let losing: TestReseller;
    let gaining: TestReseller;
    const op = () => ({ Authorization: `Bearer ${OPERATOR_KEY}` });
    const as = (who: TestReseller) => ({ Authorization: `Bearer ${who.key}` });

    before(async () => {
      losing = await makeReseller(sys, 'losing');
      gaining = await makeReseller(sys, 'gaining');
      await authorize(sys, gaining, losing);
    });

    it("API keys: a reseller's own keys, and the operator's view of any reseller's", async () => {
      await http().post('/v1/admin/resellers').set(op()).send({ username: 'keyed', name: 'Keyed', email: 'ops@keyed.example' }).expect(201);
      const first = await http().post('/v1/admin/resellers/keyed/api-keys').set(op()).send({ label: 'first' }).expect(201);
      const keyed = { Authorization: `Bearer ${first.body.api_key}` };
      const second = await http().post('/v1/api-keys').set(keyed).send({ label: 'second' }).expect(201);
      await http().post('/v1/api-keys').set(keyed).send({ label: 5 }).expect(400);
      await http().get('/v1/api-keys').set(keyed).expect(200);
      await http().post(`/v1/api-keys/${second.body.id}/revoke`).set(keyed).expect(200);
      await http().post('/v1/api-keys/999999999/revoke').set(keyed).expect(404);
      await http().get('/v1/admin/resellers/keyed/api-keys').set(op()).expect(200);
      await http().get('/v1/admin/resellers/nobody/api-keys').set(op()).expect(404);
      const third = await http().post('/v1/admin/resellers/keyed/api-keys').set(op()).send({}).expect(201);
      await http().post(`/v1/admin/resellers/keyed/api-keys/${third.body.id}/revoke`).set(op()).expect(200);
    });

    it('operator, account, catalog and push settings', async () => {
      await http().post('/v1/admin/resellers').set(op()).send({ username: 'third', name: 'Third', email: 'ops@third.example' }).expect(201);
      await http().post('/v1/admin/resellers').set(op()).send({ username: 'third', name: 'Third', email: 'ops@third.example' }).expect(409);
      await http().post('/v1/admin/resellers').set(op()).send({ username: 'x', bogus: 1 }).expect(400);
      await http().post('/v1/admin/resellers').send({}).expect(401);
      await http().get('/v1/admin/resellers').set(op()).expect(200);
      await http().patch('/v1/admin/resellers/third').set(op()).send({ domain_push_enabled: false }).expect(200);
      await http().patch('/v1/admin/resellers/nobody').set(op()).send({ name: 'N' }).expect(404);
      await http()
        .post('/v1/admin/domains/import')
        .set(op())
        .send([
          ...names('oa', 6).map((name, i) => ({
            name,
            reseller: 'losing',
            locked: i === 5,
            brand: 'Blue',
            profile: { username: `oa-${i}`, password: 'secret-pw-1' },
          })),
          { name: 'theirs.example', reseller: 'gaining' },
        ])
        .expect(201);
      await http()
        .post('/v1/admin/domains/import')
        .set(op())
        .send([{ name: 'bad..name', reseller: 'losing' }])
        .expect(400);
      await http().get('/v1/me').set(as(losing)).expect(200);
      const signIn = await http().post('/v1/sessions').send({ api_key: losing.key }).expect(201);
      await http().post('/v1/sessions').send({ api_key: 'not-a-key' }).expect(401);
      await http()
        .delete('/v1/sessions/current')
        .set('Cookie', signIn.headers['set-cookie'][0].split(';')[0])
        .set('Session-Binding', signIn.headers['session-binding'])
        .set('Origin', origin)
        .expect(204);
      await http().get('/v1/domains').set(as(losing)).query({ locked: 'true', limit: 2 }).expect(200);
      await http().get('/v1/domains').set(as(losing)).query({ limit: 0 }).expect(400);
      await http()
        .get(`/v1/domains/${names('oa', 1)[0]}`)
        .set(as(losing))
        .expect(200);
      await http().get('/v1/domains/theirs.example').set(as(losing)).expect(404);
      await http()
        .put(`/v1/domains/${names('oa', 1)[0]}/contact`)
        .set(as(losing))
        .send({ email: 'r@oa.example', country: 'DE' })
        .expect(200);
      await http()
        .post('/v1/profiles')
        .set(as(losing))
        .send({ domain: 'p.example', username: 'p-user', password: 'secret-pw-2', contact: { first_name: 'P' } })
        .expect(201);
      await http()
        .post('/v1/profiles')
        .set(as(losing))
        .send({ domain: 'p.example', username: 'p-user', password: 'secret-pw-2' })
        .expect(409);
      await http().get('/v1/profiles').set(as(losing)).expect(200);
      const brand = await http()
        .post('/v1/brands')
        .set(as(losing))
        .send({ name: 'Green', settings: { color: 'green' } })
        .expect(201);
      await http().get('/v1/brands').set(as(losing)).expect(200);
      await http().patch(`/v1/brands/${brand.body.id}`).set(as(losing)).send({ name: 'Greener' }).expect(200);
      await http().get('/v1/push-settings').set(as(gaining)).expect(200);
      await http().post('/v1/push-settings/allowed-resellers').set(as(gaining)).send({ reseller: 'third' }).expect(201);
      await http().post('/v1/push-settings/allowed-resellers').set(as(gaining)).send({ reseller: 'nobody' }).expect(404);
      await http().delete('/v1/push-settings/allowed-resellers/third').set(as(gaining)).expect(204);
      await http().delete('/v1/push-settings/allowed-resellers/third').set(as(gaining)).expect(404);
      await http().put('/v1/push-settings/notification-email').set(as(gaining)).send({ email: 'in@gaining.example' }).expect(200);
      await http().put('/v1/push-settings/notification-email').set(as(gaining)).set('Content-Type', 'text/plain').send('{}').expect(415);
    });

    it('a bulk push from submit to results, with its refusals', async () => {
      const domains = names('oa', 6);
      const body = {
        gaining_reseller: 'gaining',
        domains: [...domains, 'theirs.example', domains[0]],
        email_results_to: 'ops@losing.example',
      };
      const dry = await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({ ...body, dry_run: true })
        .expect(200);
      expect(dry.body.dry_run).to.equal(true);
      // A pasted list with a bad line, skipped: its dry-run item says where it was.
      const skipping = await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({ gaining_reseller: 'gaining', domain_list: `${domains[1]}\nbad..name`, skip_invalid: true, dry_run: true })
        .expect(200);
      expect(skipping.body.items.find((i: { reason: string }) => i.reason === 'invalid_domain')).to.include({ line: 2 });
      const sent = await http().post('/v1/bulk-pushes').set(as(losing)).set('Idempotency-Key', 'oa-1').send(body).expect(202);
      await http().post('/v1/bulk-pushes').set(as(losing)).set('Idempotency-Key', 'oa-1').send(body).expect(200);
      await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .set('Idempotency-Key', 'oa-1')
        .send({ ...body, apply_to_locked: true })
        .expect(409);
      await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({ gaining_reseller: 'gaining', domain_list: 'ok.example\nbad..name' })
        .expect(400);
      await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({ gaining_reseller: 'nobody', domains: ['x.example'] })
        .expect(422);
      await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({ gaining_reseller: 'third', domains: ['x.example'] })
        .expect(403);
      await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({
          gaining_reseller: 'gaining',
          domains: ['x.example'],
          profile: { mode: 'existing', domain: 'a.example', username: 'u', password: 'p' },
        })
        .expect(422);
      const id = sent.body.id;
      await waitForJob(sys, losing, id);
      for (const base of ['/v1/bulk-pushes', '/v1/jobs']) {
        await http().get(base).set(as(losing)).query({ limit: 1 }).expect(200);
        await http().get(`${base}/${id}`).set(as(gaining)).expect(200);
        await http().get(`${base}/${id}`).set(as(losing)).expect(200);
        await http().get(`${base}/not-a-job`).set(as(losing)).expect(404);
        await http().get(`${base}/${id}/items`).set(as(losing)).query({ status: 'failed' }).expect(200);
        await http().get(`${base}/${id}/items`).set(as(losing)).query({ status: 'bogus' }).expect(400);
        await http().get(`${base}/${id}/items`).set(as(losing)).set('Accept', 'text/csv').expect(200);
        await http().get(`${base}/${id}/events`).set(as(losing)).expect(200);
        await http().post(`${base}/${id}/cancel`).set(as(losing)).expect(409);
        await http().post(`${base}/${id}/suspend`).set(as(losing)).expect(409);
        await http().post(`${base}/${id}/resume`).set(as(losing)).expect(409);
        await http().post(`${base}/${id}/reschedule`).set(as(losing)).send({ start_at: 'now' }).expect(409);
      }
      // The copy of a brand made by the push is read-only for the gaining side.
      const brands = await http().get('/v1/brands').set(as(gaining)).expect(200);
      const copy = brands.body.items.find((b: { editable: boolean }) => b.editable === false);
      await http().patch(`/v1/brands/${copy.id}`).set(as(gaining)).send({ name: 'Mine' }).expect(409);

      // A job that can be suspended, resumed and cancelled while it waits for a worker.
      await sys.stopWorker();
      await http()
        .post('/v1/admin/domains/import')
        .set(op())
        .send([{ name: 'held.example', reseller: 'losing' }])
        .expect(201);
      const held = await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({ gaining_reseller: 'gaining', domains: ['held.example'] })
        .expect(202);
      await http().post(`/v1/jobs/${held.body.id}/suspend`).set(as(losing)).expect(202);
      await http().post(`/v1/bulk-pushes/${held.body.id}/resume`).set(as(losing)).expect(202);
      await http().post(`/v1/bulk-pushes/${held.body.id}/suspend`).set(as(losing)).expect(202);
      await http().post(`/v1/jobs/${held.body.id}/resume`).set(as(losing)).expect(202);
      await http().post(`/v1/bulk-pushes/${held.body.id}/cancel`).set(as(losing)).expect(202);
      await sys.startWorker();
      await waitForJob(sys, losing, held.body.id);

      // A job in its grace window: rescheduled under both paths, a bad body refused, then stopped.
      await http()
        .post('/v1/admin/domains/import')
        .set(op())
        .send([{ name: 'waiting.example', reseller: 'losing' }])
        .expect(201);
      const waiting = await http()
        .post('/v1/bulk-pushes')
        .set(as(losing))
        .send({ gaining_reseller: 'gaining', domains: ['waiting.example'], start_after_seconds: 600 })
        .expect(202);
      await http().post(`/v1/bulk-pushes/${waiting.body.id}/reschedule`).set(as(losing)).send({ start_after_seconds: 900 }).expect(200);
      await http().post(`/v1/jobs/${waiting.body.id}/reschedule`).set(as(losing)).send({ start_at: 'next_cycle' }).expect(200);
      await http().post(`/v1/jobs/${waiting.body.id}/reschedule`).set(as(losing)).send({ when: 'soon' }).expect(400);
      await http().get(`/v1/bulk-pushes/${waiting.body.id}`).set(as(losing)).expect(200);
      await http().post(`/v1/bulk-pushes/${waiting.body.id}/cancel`).set(as(losing)).expect(202);
      await waitForJob(sys, losing, waiting.body.id);
    });

    it('customers, packages, release and claim; the outbox; operations endpoints', async () => {
      const c = await http().post('/v1/customers').set(as(losing)).send({ name: 'Ada', email: 'ada@customer.example' }).expect(201);
      const cid = c.body.id;
      await http().post('/v1/customers').set(as(losing)).send({ nope: true }).expect(400);
      await http().get('/v1/customers').set(as(losing)).query({ status: 'active' }).expect(200);
      await http().get(`/v1/customers/${cid}`).set(as(losing)).expect(200);
      await http().patch(`/v1/customers/${cid}`).set(as(losing)).send({ phone: '+49 1' }).expect(200);
      const pkg = await http().post(`/v1/customers/${cid}/packages`).set(as(losing)).send({ name: 'Web' }).expect(201);
      const pid = pkg.body.id;
      await http().get(`/v1/customers/${cid}/packages`).set(as(losing)).expect(200);
      await http().get(`/v1/customers/${cid}/packages/${pid}`).set(as(losing)).expect(200);
      await http()
        .post(`/v1/customers/${cid}/packages/${pid}/domains`)
        .set(as(losing))
        .send({ domain: 'elsewhere.example', virtual: true })
        .expect(201);
      await http()
        .post(`/v1/customers/${cid}/packages/${pid}/domains`)
        .set(as(losing))
        .send({ domain: 'gone.example', virtual: true })
        .expect(201);
      await http().post(`/v1/customers/${cid}/packages/${pid}/domains`).set(as(losing)).send({ domain: 'theirs.example' }).expect(422);
      await http().delete(`/v1/customers/${cid}/packages/${pid}/domains/gone.example`).set(as(losing)).expect(204);
      const noMail = await http().post('/v1/customers').set(as(losing)).send({ name: 'No Mail' }).expect(201);
      await http().post(`/v1/customers/${noMail.body.id}/release`).set(as(losing)).expect(422);
      const rel = await http().post(`/v1/customers/${cid}/release`).set(as(losing)).send({}).expect(202);
      await waitForJob(sys, losing, rel.body.id);
      await http().post(`/v1/customers/${cid}/release`).set(as(losing)).expect(409);

      const row = await waitUntil('the claim invitation', async () =>
        sys.db('outbound_emails').where('dedupe_key', 'like', 'claim:%').first(),
      );
      const mail = await sys.smtp.waitFor((m) => String(m.subject).includes('Claim your account'));
      const token = mail.text!.match(/\/v1\/claims\/(claim_[A-Za-z0-9_-]+)/)![1];
      await http().get(`/v1/claims/${token}`).expect(200);
      await http().post(`/v1/claims/${token}`).send({ choice: 'import', email: 'else@where.example' }).expect(422);
      await http().post(`/v1/claims/${token}`).send({ choice: 'new_account' }).expect(201);
      await http().post(`/v1/claims/${token}`).send({ choice: 'new_account' }).expect(410);
      await http().get('/v1/claims/claim_nothing').expect(404);

      await http().get('/v1/admin/emails').set(op()).expect(200);
      await http().get(`/v1/admin/emails/${row.id}`).set(op()).expect(200);
      await http().get('/v1/admin/emails/999999').set(op()).expect(404);
      await http().get('/').expect(200);
      await http().get('/healthz').expect(200);
      await http().get('/readyz').expect(200);
      await http().get('/metrics').expect(401);
      await http().get('/metrics').set(op()).expect(401);
      await http().get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789').expect(200);
    });

    it('the audit trail: a reseller reads its own, as JSON and CSV; the operator reads every account', async () => {
      const page = await http().get('/v1/audit').query({ limit: 2, action: 'customer.' }).set(as(losing)).expect(200);
      expect(page.body.items.length).to.be.above(0);
      await http().get('/v1/audit').query({ format: 'csv' }).set(as(losing)).expect(200);
      await http().get('/v1/audit').query({ from: 'yesterday' }).set(as(losing)).expect(400);
      await http().get('/v1/audit.csv').query({ actor: 'api_key' }).set(as(losing)).expect(200);
      await http().get('/v1/admin/audit').query({ reseller: 'losing' }).set(op()).expect(200);
      await http().get('/v1/admin/audit').set(as(losing)).expect(401);
      await http().get('/v1/admin/audit.csv').set(op()).expect(200);
    });

    it("the kinds of bulk job: each one's words, item statuses and reasons", async () => {
      const kinds = await http().get('/v1/kinds').set(as(losing)).expect(200);
      expect(kinds.body.items.map((k: { name: string }) => k.name)).to.include.members(['push', 'release']);
      await http().get('/v1/kinds').expect(401);
    });

    it('webhooks: endpoints, their delivery log and a redelivery, with their refusals', async () => {
      const ep = await http()
        .post('/v1/webhooks')
        .set(as(losing))
        .send({ url: 'http://127.0.0.1:9/hook', event_types: ['api_key.created'], description: 'e2e' })
        .expect(201);
      await http()
        .post('/v1/webhooks')
        .set(as(losing))
        .send({ url: 'https://10.0.0.1/x', event_types: ['api_key.created'] })
        .expect(400);
      await http().get('/v1/webhooks').set(as(losing)).expect(200);
      await http().get(`/v1/webhooks/${ep.body.id}`).set(as(losing)).expect(200);
      await http().get('/v1/webhooks/999999').set(as(losing)).expect(404);
      await http()
        .patch(`/v1/webhooks/${ep.body.id}`)
        .set(as(losing))
        .send({ event_types: ['api_key.created', 'api_key.revoked'] })
        .expect(200);
      await http().patch(`/v1/webhooks/${ep.body.id}`).set(as(losing)).send({ url: 'ftp://x' }).expect(400);
      await http().post('/v1/api-keys').set(as(losing)).send({ label: 'hooked' }).expect(201);
      const log = await http().get(`/v1/webhooks/${ep.body.id}/deliveries`).set(as(losing)).expect(200);
      await http().post(`/v1/webhooks/${ep.body.id}/deliveries/${log.body.items[0].id}/redeliver`).set(as(losing)).expect(202);
      await http().post(`/v1/webhooks/${ep.body.id}/deliveries/999999/redeliver`).set(as(losing)).expect(404);
      await http().delete(`/v1/webhooks/${ep.body.id}`).set(as(losing)).expect(204);
      await http().delete(`/v1/webhooks/${ep.body.id}`).set(as(losing)).expect(404);
    });

    it('every answer above is documented (status, media type) and matches its schema; every route was exercised', () => {
      const { problems, covered } = checkAgainst(doc, recorded);
      expect(problems).to.deep.equal([]);
      const exercised = new Set([...covered].map((c) => c.split(' ').slice(0, 2).join(' ')));
      const missing = Object.keys(OPERATIONS)
        .map((k) => `${k.split(' ')[0]} ${openApiPath(k.split(' ')[1])}`)
        .filter((k) => !exercised.has(k));
      expect(missing, 'routes no flow exercised').to.deep.equal([]);
      // Refusals were checked too, not only successes.
      expect([...covered].filter((c) => /\s4\d\d$/.test(c)).length).to.be.above(25);
    });
  });
});
