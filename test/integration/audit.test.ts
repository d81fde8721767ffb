import { Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import type { Response } from 'supertest';
import { ROUTE_TABLES } from '../../api/routes';
import type { Routes } from '../../api/routes/route';
import { hashSecret } from '../../shared/platform/secrets';
import { runCli, show } from '../helpers/cli-run';
import { parseCsv } from '../helpers/csv';
import { makeReseller, shared, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

const op = `Bearer ${OPERATOR_KEY}`;
const bearer = (r: TestReseller | string) => `Bearer ${typeof r === 'string' ? r : r.key}`;

interface Entry {
  id: string;
  reseller_id: string | null;
  actor_kind: string;
  actor_id: string | null;
  address: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  summary: Record<string, unknown>;
  route: string | null;
  status: number | null;
}

/** What a step expects of its one entry. */
interface Expect {
  actor: { kind: string; id: string | null };
  target: [type: string, id: string | null];
  /** The account the entry belongs to (a username), or null: the operator's only. */
  reseller: string | null;
  summary?: Record<string, unknown>;
}

type Step = (c: World) => Promise<{ res: Response; expect: Expect }>;

/** What the steps share: the resellers, ids made by earlier steps. */
interface World {
  sys: TestSystem;
  alpha: TestReseller;
  beta: TestReseller;
  ids: Record<string, string>;
  session?: { pair: string; binding: string; actorId: string };
}

const keyPrefix = (r: TestReseller) => r.key.slice(0, 8);
const asAlpha = (c: World): Expect['actor'] => ({ kind: 'api_key', id: keyPrefix(c.alpha) });
const asOperator: Expect['actor'] = { kind: 'operator', id: `op_${hashSecret(OPERATOR_KEY).slice(0, 8)}` };

/**
 * One valid request for every state-changing route of the route table, in an order where each
 * finds what it needs. A route added to the table without a step here fails the walk: every
 * change has to be shown to leave its entry.
 */
const STEPS: Record<string, Step> = {
  'POST /v1/admin/resellers': async ({ sys }) => {
    const res = await sys
      .http()
      .post('/v1/admin/resellers')
      .set('Authorization', op)
      .send({ username: 'gamma', name: 'Gamma', email: 'ops@gamma.example' });
    return {
      res,
      expect: {
        actor: asOperator,
        target: ['reseller', 'gamma'],
        reseller: 'gamma',
        summary: { username: 'gamma', fields: ['email', 'name', 'username'] },
      },
    };
  },
  'PATCH /v1/admin/resellers/:username': async ({ sys }) => {
    const res = await sys.http().patch('/v1/admin/resellers/gamma').set('Authorization', op).send({ domain_push_enabled: true });
    return {
      res,
      expect: { actor: asOperator, target: ['reseller', 'gamma'], reseller: 'gamma', summary: { changes: { domain_push_enabled: true } } },
    };
  },
  'POST /v1/admin/resellers/:username/api-keys': async (c) => {
    const res = await c.sys.http().post('/v1/admin/resellers/alpha/api-keys').set('Authorization', op).send({ label: 'ops' });
    c.ids.opKey = res.body.id;
    return {
      res,
      expect: {
        actor: asOperator,
        target: ['api_key', res.body.id],
        reseller: 'alpha',
        summary: { label: 'ops', prefix: res.body.prefix },
      },
    };
  },
  'POST /v1/admin/resellers/:username/api-keys/:id/revoke': async (c) => {
    const res = await c.sys.http().post(`/v1/admin/resellers/alpha/api-keys/${c.ids.opKey}/revoke`).set('Authorization', op);
    return { res, expect: { actor: asOperator, target: ['api_key', c.ids.opKey], reseller: 'alpha' } };
  },
  'POST /v1/api-keys': async (c) => {
    const res = await c.sys.http().post('/v1/api-keys').set('Authorization', bearer(c.alpha)).send({ label: 'ci' });
    c.ids.key = res.body.id;
    // The new key's secret is in the answer; the entry keeps its prefix only.
    c.ids.secret = res.body.api_key;
    return {
      res,
      expect: { actor: asAlpha(c), target: ['api_key', res.body.id], reseller: 'alpha', summary: { label: 'ci', prefix: res.body.prefix } },
    };
  },
  'POST /v1/api-keys/:id/revoke': async (c) => {
    const res = await c.sys.http().post(`/v1/api-keys/${c.ids.key}/revoke`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['api_key', c.ids.key], reseller: 'alpha' } };
  },
  'POST /v1/admin/domains/import': async ({ sys }) => {
    const res = await sys
      .http()
      .post('/v1/admin/domains/import')
      .set('Authorization', op)
      .send([
        { name: 'a1.example', reseller: 'alpha' },
        {
          name: 'a2.example',
          reseller: 'alpha',
          profile: { username: 'p1', password: 'import-secret-pw', contact: { email: 'p@a.example' } },
        },
        { name: 'a3.example', reseller: 'alpha' },
      ]);
    return { res, expect: { actor: asOperator, target: ['domain', null], reseller: null, summary: { rows: 3 } } };
  },
  'POST /v1/sessions': async (c) => {
    const res = await c.sys.http().post('/v1/sessions').send({ api_key: c.alpha.key });
    const line = ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).find((x) => x.startsWith('dp_session='))!;
    const pair = line.split(';')[0];
    const token = decodeURIComponent(pair.slice('dp_session='.length));
    c.session = {
      pair,
      binding: String(res.headers['session-binding']),
      actorId: `${keyPrefix(c.alpha)}/${hashSecret(token).slice(0, 8)}`,
    };
    return { res, expect: { actor: asAlpha(c), target: ['session', null], reseller: 'alpha', summary: { fields: ['api_key'] } } };
  },
  'PUT /v1/push-settings/notification-email': async (c) => {
    // Through the console session: the actor is the session, by its key's prefix and its hash's.
    const res = await c.sys
      .http()
      .put('/v1/push-settings/notification-email')
      .set({ Cookie: c.session!.pair, 'Session-Binding': c.session!.binding, Origin: c.sys.url })
      .send({ email: 'notify@alpha.example' });
    return {
      res,
      expect: {
        actor: { kind: 'session', id: c.session!.actorId },
        target: ['push_settings', null],
        reseller: 'alpha',
        summary: { email: 'notify@alpha.example' },
      },
    };
  },
  'DELETE /v1/sessions/current': async (c) => {
    const res = await c.sys
      .http()
      .delete('/v1/sessions/current')
      .set({ Cookie: c.session!.pair, 'Session-Binding': c.session!.binding, Origin: c.sys.url });
    return { res, expect: { actor: { kind: 'session', id: c.session!.actorId }, target: ['session', null], reseller: 'alpha' } };
  },
  'POST /v1/push-settings/allowed-resellers': async (c) => {
    const res = await c.sys
      .http()
      .post('/v1/push-settings/allowed-resellers')
      .set('Authorization', bearer(c.beta))
      .send({ reseller: 'gamma' });
    return { res, expect: { actor: { kind: 'api_key', id: keyPrefix(c.beta) }, target: ['reseller', 'gamma'], reseller: 'beta' } };
  },
  'DELETE /v1/push-settings/allowed-resellers/:username': async (c) => {
    const res = await c.sys.http().delete('/v1/push-settings/allowed-resellers/gamma').set('Authorization', bearer(c.beta));
    return { res, expect: { actor: { kind: 'api_key', id: keyPrefix(c.beta) }, target: ['reseller', 'gamma'], reseller: 'beta' } };
  },
  'POST /v1/profiles': async (c) => {
    const res = await c.sys
      .http()
      .post('/v1/profiles')
      .set('Authorization', bearer(c.alpha))
      .send({ domain: 'a1.example', username: 'prof1', password: 'profile-secret-pw' });
    return { res, expect: { actor: asAlpha(c), target: ['profile', res.body.id], reseller: 'alpha', summary: { username: 'prof1' } } };
  },
  'POST /v1/brands': async (c) => {
    const res = await c.sys
      .http()
      .post('/v1/brands')
      .set('Authorization', bearer(c.alpha))
      .send({ name: 'Blue', settings: { color: 'blue' } });
    c.ids.brand = res.body.id;
    return { res, expect: { actor: asAlpha(c), target: ['brand', res.body.id], reseller: 'alpha', summary: { name: 'Blue' } } };
  },
  'PATCH /v1/brands/:id': async (c) => {
    const res = await c.sys
      .http()
      .patch(`/v1/brands/${c.ids.brand}`)
      .set('Authorization', bearer(c.alpha))
      .send({ settings: { color: 'red' } });
    return { res, expect: { actor: asAlpha(c), target: ['brand', c.ids.brand], reseller: 'alpha', summary: { fields: ['settings'] } } };
  },
  'PUT /v1/domains/:name/contact': async (c) => {
    const res = await c.sys
      .http()
      .put('/v1/domains/a2.example/contact')
      .set('Authorization', bearer(c.alpha))
      .send({ phone: '+1 555 0100' });
    return { res, expect: { actor: asAlpha(c), target: ['domain', 'a2.example'], reseller: 'alpha', summary: { fields: ['phone'] } } };
  },
  'POST /v1/bulk-pushes': async (c) => {
    // Held an hour in its grace window: the job steps below find it scheduled.
    const res = await c.sys
      .http()
      .post('/v1/bulk-pushes')
      .set('Authorization', bearer(c.alpha))
      .send({ gaining_reseller: 'beta', domains: ['a1.example'], start_after_seconds: 3600 });
    c.ids.job = res.body.id;
    return {
      res,
      expect: {
        actor: asAlpha(c),
        target: ['bulk_job', res.body.id],
        reseller: 'alpha',
        summary: { gaining_reseller: 'beta', total: '1', start_after_seconds: '3600' },
      },
    };
  },
  'POST /v1/bulk-pushes/:id/reschedule': async (c) => {
    const res = await c.sys
      .http()
      .post(`/v1/bulk-pushes/${c.ids.job}/reschedule`)
      .set('Authorization', bearer(c.alpha))
      .send({ start_after_seconds: 1800 });
    return {
      res,
      expect: {
        actor: asAlpha(c),
        target: ['bulk_job', c.ids.job],
        reseller: 'alpha',
        summary: { requested: { start_after_seconds: 1800 } },
      },
    };
  },
  'POST /v1/jobs/:id/reschedule': async (c) => {
    const res = await c.sys
      .http()
      .post(`/v1/jobs/${c.ids.job}/reschedule`)
      .set('Authorization', bearer(c.alpha))
      .send({ start_after_seconds: 2400 });
    return { res, expect: { actor: asAlpha(c), target: ['bulk_job', c.ids.job], reseller: 'alpha' } };
  },
  'POST /v1/bulk-pushes/:id/suspend': async (c) => {
    const res = await c.sys.http().post(`/v1/bulk-pushes/${c.ids.job}/suspend`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['bulk_job', c.ids.job], reseller: 'alpha', summary: { status: res.body.status } } };
  },
  'POST /v1/bulk-pushes/:id/resume': async (c) => {
    const res = await c.sys.http().post(`/v1/bulk-pushes/${c.ids.job}/resume`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['bulk_job', c.ids.job], reseller: 'alpha' } };
  },
  'POST /v1/jobs/:id/suspend': async (c) => {
    const res = await c.sys.http().post(`/v1/jobs/${c.ids.job}/suspend`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['bulk_job', c.ids.job], reseller: 'alpha' } };
  },
  'POST /v1/jobs/:id/resume': async (c) => {
    const res = await c.sys.http().post(`/v1/jobs/${c.ids.job}/resume`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['bulk_job', c.ids.job], reseller: 'alpha' } };
  },
  'POST /v1/bulk-pushes/:id/cancel': async (c) => {
    const res = await c.sys.http().post(`/v1/bulk-pushes/${c.ids.job}/cancel`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['bulk_job', c.ids.job], reseller: 'alpha', summary: { status: res.body.status } } };
  },
  'POST /v1/jobs/:id/cancel': async (c) => {
    const again = await c.sys
      .http()
      .post('/v1/bulk-pushes')
      .set('Authorization', bearer(c.alpha))
      .send({ gaining_reseller: 'beta', domains: ['a3.example'], start_after_seconds: 3600 });
    expect(again.status, JSON.stringify(again.body)).to.equal(202);
    const res = await c.sys.http().post(`/v1/jobs/${again.body.id}/cancel`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['bulk_job', again.body.id], reseller: 'alpha' } };
  },
  'POST /v1/customers': async (c) => {
    const res = await c.sys
      .http()
      .post('/v1/customers')
      .set('Authorization', bearer(c.alpha))
      .send({ name: 'Ada', email: 'ada@customer.example' });
    c.ids.customer = res.body.id;
    return {
      res,
      expect: { actor: asAlpha(c), target: ['customer', res.body.id], reseller: 'alpha', summary: { fields: ['email', 'name'] } },
    };
  },
  'PATCH /v1/customers/:id': async (c) => {
    const res = await c.sys.http().patch(`/v1/customers/${c.ids.customer}`).set('Authorization', bearer(c.alpha)).send({ phone: '+44 1' });
    return { res, expect: { actor: asAlpha(c), target: ['customer', c.ids.customer], reseller: 'alpha', summary: { fields: ['phone'] } } };
  },
  'POST /v1/customers/:id/packages': async (c) => {
    const res = await c.sys
      .http()
      .post(`/v1/customers/${c.ids.customer}/packages`)
      .set('Authorization', bearer(c.alpha))
      .send({ name: 'Web' });
    c.ids.package = res.body.id;
    return {
      res,
      expect: {
        actor: asAlpha(c),
        target: ['service_package', res.body.id],
        reseller: 'alpha',
        summary: { customer_id: c.ids.customer, name: 'Web' },
      },
    };
  },
  'POST /v1/customers/:id/packages/:pid/domains': async (c) => {
    const res = await c.sys
      .http()
      .post(`/v1/customers/${c.ids.customer}/packages/${c.ids.package}/domains`)
      .set('Authorization', bearer(c.alpha))
      .send({ domain: 'elsewhere.example', virtual: true });
    return {
      res,
      expect: {
        actor: asAlpha(c),
        target: ['service_package', c.ids.package],
        reseller: 'alpha',
        summary: { domain: 'elsewhere.example', virtual: true },
      },
    };
  },
  'DELETE /v1/customers/:id/packages/:pid/domains/:domain': async (c) => {
    const res = await c.sys
      .http()
      .delete(`/v1/customers/${c.ids.customer}/packages/${c.ids.package}/domains/elsewhere.example`)
      .set('Authorization', bearer(c.alpha));
    return {
      res,
      expect: {
        actor: asAlpha(c),
        target: ['service_package', c.ids.package],
        reseller: 'alpha',
        summary: { domain: 'elsewhere.example' },
      },
    };
  },
  'POST /v1/customers/:id/release': async (c) => {
    const res = await c.sys.http().post(`/v1/customers/${c.ids.customer}/release`).set('Authorization', bearer(c.alpha)).send({});
    return {
      res,
      expect: { actor: asAlpha(c), target: ['customer', c.ids.customer], reseller: 'alpha', summary: { job_id: res.body.id } },
    };
  },
  'POST /v1/claims/:token': async (c) => {
    // The release runs in the worker, then the invitation carries the claim link.
    await c.sys.startWorker();
    const mail = await c.sys.smtp.waitFor((m) => /\/v1\/claims\/claim_/.test(m.text ?? ''));
    const token = mail.text!.match(/\/v1\/claims\/(claim_[A-Za-z0-9_-]+)/)![1];
    c.ids.claimToken = token;
    const res = await c.sys.http().post(`/v1/claims/${token}`).send({ choice: 'new_account' });
    return {
      res,
      expect: {
        actor: { kind: 'claim_link', id: null },
        target: ['customer', c.ids.customer],
        reseller: null,
        summary: { choice: 'new_account' },
      },
    };
  },
  'POST /v1/webhooks': async (c) => {
    const res = await c.sys
      .http()
      .post('/v1/webhooks')
      .set('Authorization', bearer(c.alpha))
      .send({ url: 'http://127.0.0.1:9/hook', event_types: ['api_key.created'] });
    c.ids.webhook = res.body.id;
    c.ids.webhookSecret = res.body.secret;
    return {
      res,
      expect: { actor: asAlpha(c), target: ['webhook', res.body.id], reseller: 'alpha', summary: { fields: ['event_types', 'url'] } },
    };
  },
  'PATCH /v1/webhooks/:id': async (c) => {
    const res = await c.sys
      .http()
      .patch(`/v1/webhooks/${c.ids.webhook}`)
      .set('Authorization', bearer(c.alpha))
      .send({ description: 'CRM' });
    return { res, expect: { actor: asAlpha(c), target: ['webhook', c.ids.webhook], reseller: 'alpha' } };
  },
  'POST /v1/webhooks/:id/deliveries/:delivery_id/redeliver': async (c) => {
    // An event the endpoint takes: a new key.
    const made = await c.sys.http().post('/v1/api-keys').set('Authorization', bearer(c.alpha)).send({ label: 'for a delivery' });
    expect(made.status).to.equal(201);
    const delivery = await waitUntil(
      async () =>
        (await c.sys.http().get(`/v1/webhooks/${c.ids.webhook}/deliveries`).set('Authorization', bearer(c.alpha))).body.items?.[0],
      { label: 'a webhook delivery' },
    );
    const res = await c.sys
      .http()
      .post(`/v1/webhooks/${c.ids.webhook}/deliveries/${delivery.id}/redeliver`)
      .set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['webhook_delivery', String(delivery.id)], reseller: 'alpha' } };
  },
  'DELETE /v1/webhooks/:id': async (c) => {
    const res = await c.sys.http().delete(`/v1/webhooks/${c.ids.webhook}`).set('Authorization', bearer(c.alpha));
    return { res, expect: { actor: asAlpha(c), target: ['webhook', c.ids.webhook], reseller: 'alpha' } };
  },
};

/** Every route of the table that is not a GET: what the walk must cover. */
function stateChangingRoutes(): string[] {
  return ROUTE_TABLES.flatMap((t: Routes) => Object.keys(t)).filter((k) => !k.startsWith('GET '));
}

const entriesAfter = (sys: TestSystem, id: string | number): Promise<Entry[]> =>
  sys.db('audit_entries').where('id', '>', id).orderBy('id').select('*');
const lastId = async (sys: TestSystem) => String((await sys.db('audit_entries').max({ m: 'id' }).first())?.m ?? 0);

/** The system's log lines at warn and above, as objects (a real pino logger writing here). */
const logged: { event?: string; route?: string; err?: string }[] = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    for (const l of String(chunk).split('\n').filter(Boolean)) logged.push(JSON.parse(l));
    cb();
  },
});

describe('audit trail', () => {
  let sys: TestSystem;
  let world: World;

  before(async () => {
    sys = await startSystem({ worker: false, config: { WEBHOOK_ALLOW_INSECURE_LOOPBACK: true }, log: pino({ level: 'warn' }, sink) });
    const alpha = await makeReseller(sys, 'alpha');
    const beta = await makeReseller(sys, 'beta');
    // beta takes pushes from alpha (entries of their own; the walk counts only its own).
    const allowed = await sys
      .http()
      .post('/v1/push-settings/allowed-resellers')
      .set('Authorization', bearer(beta))
      .send({ reseller: 'alpha' });
    expect(allowed.status).to.equal(201);
    world = { sys, alpha, beta, ids: {} };
  });
  after(() => sys?.stop());

  /** Runs every step once (whichever test needs the walk first) and returns what each left. */
  const walk = shared(async () => {
    const out: { key: string; status: number; body: unknown; want: Expect; mine: Entry[] }[] = [];
    const routes = stateChangingRoutes();
    for (const key of Object.keys(STEPS).filter((k) => routes.includes(k))) {
      const before = await lastId(sys);
      const { res, expect: want } = await STEPS[key](world);
      // A step may make others' entries on the way (a key to get a delivery); its route's is one.
      const mine = (await entriesAfter(sys, before)).filter((e) => e.route === key);
      out.push({ key, status: res.status, body: res.body, want, mine });
    }
    return out;
  });

  it('every state-changing route of the route table leaves exactly one entry: actor, address, target, summary, never a secret', async function () {
    this.timeout(120_000);
    const routes = stateChangingRoutes();
    const missing = routes.filter((k) => !STEPS[k]);
    expect(missing, 'state-changing routes the audit walk has no step for').to.deep.equal([]);
    const tables = Object.assign({}, ...ROUTE_TABLES) as Routes;
    for (const { key, status, body, want, mine } of await walk()) {
      const res = { status, body };
      expect(res.status, `${key}: ${JSON.stringify(res.body)}`).to.be.within(200, 299);
      expect(mine, `${key}: its entries`).to.have.length(1);
      const [e] = mine;
      expect(e.action, key).to.equal(tables[key].audit!.action);
      expect(e.target_type, key).to.equal(want.target[0]);
      expect(e.target_id, key).to.equal(want.target[1] === null ? null : String(want.target[1]));
      expect({ kind: e.actor_kind, id: e.actor_id }, `${key}: actor`).to.deep.equal(want.actor);
      expect(e.address, `${key}: address`).to.match(/^(::ffff:)?127\.0\.0\.1$/);
      expect(e.status, key).to.equal(res.status);
      const owner = want.reseller === null ? null : String((await sys.db('resellers').where({ username: want.reseller }).first('id')).id);
      expect(e.reseller_id === null ? null : String(e.reseller_id), `${key}: account`).to.equal(owner);
      if (want.summary) expect(e.summary, `${key}: summary`).to.deep.include(want.summary);
    }
    // No secret was kept: not a key, a password, a claim token, a webhook secret, a session.
    const all = JSON.stringify(await sys.db('audit_entries').select('*'));
    for (const secret of [
      world.alpha.key,
      world.ids.secret,
      'import-secret-pw',
      'profile-secret-pw',
      world.ids.claimToken,
      world.ids.webhookSecret,
      OPERATOR_KEY,
      // Not even the operator key's first characters: the operator is named by a fingerprint.
      OPERATOR_KEY.slice(0, 8),
    ])
      if (secret) expect(all, 'a secret in the audit trail').to.not.include(secret);
  });

  it('a dry run and a refused request (4xx) leave no entry', async function () {
    this.timeout(120_000);
    await walk();
    const { alpha, beta } = world;
    const before = await lastId(sys);
    const refused = [
      await sys
        .http()
        .post('/v1/bulk-pushes')
        .set('Authorization', bearer(alpha))
        .send({ gaining_reseller: 'beta', domains: ['a1.example'], dry_run: true }),
      await sys.http().patch('/v1/brands/999999').set('Authorization', bearer(alpha)).send({ name: 'x' }),
      await sys.http().post('/v1/customers').set('Authorization', bearer(alpha)).send({ name: '' }),
      await sys.http().post('/v1/api-keys').set('Authorization', 'Bearer dpk_wrong-wrong-wrong-wrong').send({}),
      await sys
        .http()
        .post(`/v1/bulk-pushes/${world.ids.job ?? '00000000-0000-0000-0000-000000000000'}/cancel`)
        .set('Authorization', bearer(beta)),
      await sys.http().patch('/v1/admin/resellers/nobody').set('Authorization', op).send({ domain_push_enabled: true }),
    ];
    expect(refused.map((r) => r.status)).to.deep.equal([200, 404, 400, 401, 404, 404]);
    expect(await entriesAfter(sys, before)).to.deep.equal([]);
  });

  it('the table is append-only: UPDATE, DELETE and TRUNCATE are refused by the database, whoever asks', async () => {
    const [row] = await sys.db('audit_entries').orderBy('id').limit(1).select('id', 'action');
    const count = async () => Number((await sys.db('audit_entries').count({ n: '*' }).first())!.n);
    const n = await count();
    for (const attempt of [
      () => sys.db('audit_entries').where({ id: row.id }).update({ action: 'forged' }),
      () => sys.db('audit_entries').where({ id: row.id }).del(),
      () => sys.db('audit_entries').del(),
      () => sys.db.raw('truncate audit_entries'),
      // The purge's flag, set by hand to a time after the entries: still refused (the cutoff must be a day old, and rows older than it).
      () =>
        sys.db.transaction(async (trx) => {
          await trx.raw(`select set_config('domain_push.audit_purge_before', (now() + interval '1 day')::text, true)`);
          await trx('audit_entries').del();
        }),
    ])
      await attempt().then(
        () => expect.fail('the change went through'),
        (err: Error) => expect(err.message).to.match(/append-only/),
      );
    expect(await count()).to.equal(n);
    expect((await sys.db('audit_entries').where({ id: row.id }).first()).action).to.equal(row.action);
    // And the purge refuses a retention under a day.
    await sys.db.raw('select audit_purge(0)').then(
      () => expect.fail('purged with 0 days'),
      (err: Error) => expect(err.message).to.match(/at least 1/),
    );
  });

  it('the retention purge (the worker, AUDIT_RETENTION_DAYS) removes only entries older than the retention', async () => {
    const day = 24 * 3600 * 1000;
    const old = (days: number, action: string) => ({
      at: new Date(Date.now() - days * day),
      actor_kind: 'operator',
      action,
      target_type: 'test',
      summary: '{}',
    });
    await sys.db('audit_entries').insert([old(500, 'test.very_old'), old(401, 'test.old'), old(399, 'test.kept'), old(10, 'test.recent')]);
    const before = Number((await sys.db('audit_entries').count({ n: '*' }).first())!.n);
    const worker = sys.worker ?? (await sys.startWorker());
    await worker.auditPurgeNow();
    expect(sys.config.AUDIT_RETENTION_DAYS).to.equal(400);
    const left = await sys.db('audit_entries').where('action', 'like', 'test.%').orderBy('at').pluck('action');
    expect(left).to.deep.equal(['test.kept', 'test.recent']);
    expect(Number((await sys.db('audit_entries').count({ n: '*' }).first())!.n)).to.equal(before - 2);
  });

  it('a reseller reads its own entries (filters, cursor pages, CSV), never another account’s; the operator reads all', async function () {
    this.timeout(120_000);
    await walk();
    const { alpha, beta } = world;
    const page = async (who: string, q: Record<string, string | number> = {}) => {
      const res = await sys.http().get('/v1/audit').query(q).set('Authorization', who);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.body as {
        items: { id: string; action: string; reseller: string; actor: { kind: string }; at: string }[];
        next_cursor: string | null;
      };
    };
    const alphaAll = await page(bearer(alpha), { limit: 1000 });
    expect(alphaAll.items.length).to.be.above(20);
    expect(new Set(alphaAll.items.map((e) => e.reseller))).to.deep.equal(new Set(['alpha']));
    const betaAll = await page(bearer(beta), { limit: 1000 });
    expect(new Set(betaAll.items.map((e) => e.reseller))).to.deep.equal(new Set(['beta']));
    const alphaIds = new Set(alphaAll.items.map((e) => e.id));
    expect(betaAll.items.filter((e) => alphaIds.has(e.id))).to.deep.equal([]);
    // Newest first; pages of 5 walk the same entries.
    const ids = alphaAll.items.map((e) => Number(e.id));
    expect(ids).to.deep.equal([...ids].sort((a, b) => b - a));
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const p = await page(bearer(alpha), { limit: 5, ...(cursor ? { cursor } : {}) });
      walked.push(...p.items.map((e) => e.id));
      cursor = p.next_cursor;
    } while (cursor);
    expect(walked).to.deep.equal(alphaAll.items.map((e) => e.id));
    // Filters.
    const cust = await page(bearer(alpha), { action: 'customer.', limit: 1000 });
    expect(cust.items.map((e) => e.action)).to.have.members(['customer.create', 'customer.update', 'customer.release']);
    expect((await page(bearer(alpha), { action: 'brand.update' })).items).to.have.length(1);
    expect((await page(bearer(alpha), { actor: 'operator', limit: 1000 })).items.every((e) => e.actor.kind === 'operator')).to.equal(true);
    expect((await page(bearer(alpha), { actor: 'session' })).items).to.have.length(2);
    expect((await page(bearer(alpha), { from: '2000-01-01', to: '2000-01-02' })).items).to.deep.equal([]);
    // One target's history: who did what to the scheduled job, newest first.
    const history = await page(bearer(alpha), { target: `bulk_job:${world.ids.job}` });
    expect(history.items.map((e) => e.action).reverse()).to.deep.equal([
      'bulk_job.submit',
      'bulk_job.reschedule',
      'bulk_job.reschedule',
      'bulk_job.suspend',
      'bulk_job.resume',
      'bulk_job.suspend',
      'bulk_job.resume',
      'bulk_job.cancel',
    ]);
    expect((await page(bearer(alpha), { target: 'brand', limit: 1000 })).items.every((e) => e.action.startsWith('brand.'))).to.equal(true);
    const mid = alphaAll.items[Math.floor(alphaAll.items.length / 2)].at;
    const since = await page(bearer(alpha), { from: mid, limit: 1000 });
    expect(since.items.every((e) => e.at >= mid)).to.equal(true);
    // Bad filters are 400 and name the field.
    for (const q of [
      { from: 'yesterday' },
      { action: 'DROP TABLE' },
      { target: 'bulk job' },
      { from: '2026-02-01', to: '2026-01-01' },
      { cursor: '!!' },
      { format: 'xml' },
    ]) {
      const res = await sys.http().get('/v1/audit').query(q).set('Authorization', bearer(alpha));
      expect(res.status, JSON.stringify(q)).to.equal(400);
      expect(res.body.error.code).to.equal('invalid_request');
    }
    // CSV: the same entries, newest first; the .csv path and ?format=csv agree.
    const csv = await sys.http().get('/v1/audit.csv').set('Authorization', bearer(alpha));
    expect(csv.status).to.equal(200);
    expect(csv.type).to.equal('text/csv');
    const rows = parseCsv(csv.text);
    expect(rows[0]).to.deep.equal([
      'id',
      'at',
      'reseller',
      'action',
      'actor_kind',
      'actor_id',
      'address',
      'target_type',
      'target_id',
      'route',
      'status',
      'summary',
    ]);
    expect(rows.slice(1).map((r) => r[0])).to.deep.equal(alphaAll.items.map((e) => e.id));
    expect(rows.slice(1).every((r) => r[2] === 'alpha')).to.equal(true);
    const viaFormat = await sys.http().get('/v1/audit').query({ format: 'csv', action: 'customer.' }).set('Authorization', bearer(alpha));
    expect(parseCsv(viaFormat.text).length).to.equal(1 + cust.items.length);
    // A reseller cannot use the operator's routes; the operator reads every account and filters by one.
    expect((await sys.http().get('/v1/admin/audit').set('Authorization', bearer(alpha))).status).to.equal(401);
    const every = await sys.http().get('/v1/admin/audit').query({ limit: 1000 }).set('Authorization', op);
    expect(every.status).to.equal(200);
    const accounts = new Set(every.body.items.map((e: { reseller: string | null }) => e.reseller));
    for (const name of ['alpha', 'beta', 'gamma', null]) expect(accounts.has(name), String(name)).to.equal(true);
    const onlyBeta = await sys.http().get('/v1/admin/audit').query({ reseller: 'beta', limit: 1000 }).set('Authorization', op);
    expect(onlyBeta.body.items.map((e: { id: string }) => e.id)).to.deep.equal(betaAll.items.map((e) => e.id));
    const opCsv = await sys.http().get('/v1/admin/audit.csv').query({ reseller: 'beta' }).set('Authorization', op);
    expect(parseCsv(opCsv.text).length).to.equal(1 + betaAll.items.length);
  });

  it('the CLI shows the trail (filters, --since) and exports it as CSV; a bad --since is refused before any request', async function () {
    this.timeout(120_000);
    await walk();
    const target = { url: sys.url, key: world.alpha.key };
    const shown = await runCli(target, ['audit', '--action', 'customer.', '--since', '1d']);
    expect(shown.code, show(shown)).to.equal(0);
    expect(shown.stdout).to.match(/TIME \(UTC\)\s+ACTOR\s+ADDRESS\s+ACTION\s+TARGET\s+CHANGE/);
    for (const action of ['customer.create', 'customer.update', 'customer.release']) expect(shown.stdout).to.include(action);
    expect(shown.stdout).to.not.include('brand.create');
    const json = await runCli(target, ['--json', 'audit', '--actor', 'session']);
    expect(JSON.parse(json.stdout).items.map((e: { action: string }) => e.action)).to.have.members([
      'push_settings.notification_email',
      'session.delete',
    ]);
    const csv = await runCli(target, ['audit', '--csv']);
    expect(csv.code, show(csv)).to.equal(0);
    const api = await sys.http().get('/v1/audit.csv').set('Authorization', bearer(world.alpha));
    expect(csv.stdout).to.equal(api.text);
    const history = await runCli(target, ['--json', 'audit', '--target', `bulk_job:${world.ids.job}`]);
    expect(JSON.parse(history.stdout).items.at(-1).action).to.equal('bulk_job.submit');
    const bad = await runCli(target, ['audit', '--since', 'last tuesday']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('is not a time');
  });

  it("records the operator's dashboard actions (bull-board's buttons), and not a refused one", async () => {
    const basic = `Basic ${Buffer.from(`operator:${OPERATOR_KEY}`).toString('base64')}`;
    const before = await lastId(sys);
    const forged = await sys
      .http()
      .put('/admin/queues/api/queues/bulk/pause')
      .set('Authorization', basic)
      .set('Origin', 'https://evil.example');
    expect(forged.status).to.equal(403);
    expect(await entriesAfter(sys, before)).to.deep.equal([]);
    const paused = await sys.http().put('/admin/queues/api/queues/bulk/pause').set('Authorization', basic).set('Origin', sys.url);
    expect(paused.status, paused.text).to.be.within(200, 299);
    const resumed = await sys.http().put('/admin/queues/api/queues/bulk/resume').set('Authorization', basic).set('Origin', sys.url);
    expect(resumed.status).to.be.within(200, 299);
    const cleaned = await sys
      .http()
      .put('/admin/queues/api/queues/bulk/clean/completed')
      .set('Authorization', basic)
      .set('Origin', sys.url);
    expect(cleaned.status).to.be.within(200, 299);
    const entries = await entriesAfter(sys, before);
    expect(entries.map((e) => [e.action, e.target_type, e.target_id, e.actor_kind, e.actor_id])).to.deep.equal([
      ['dashboard.queue.pause', 'queue', 'bulk', 'operator', asOperator.id],
      ['dashboard.queue.resume', 'queue', 'bulk', 'operator', asOperator.id],
      ['dashboard.queue.clean', 'queue', 'bulk', 'operator', asOperator.id],
    ]);
    expect(entries[2].summary).to.deep.include({ status: 'completed' });
    expect(entries.every((e) => e.reseller_id === null && /127\.0\.0\.1$/.test(e.address ?? ''))).to.equal(true);
  });

  it('the address is the one the app derives (trust proxy off: the peer), so a forged X-Forwarded-For is not recorded', async () => {
    const before = await lastId(sys);
    const res = await sys
      .http()
      .post('/v1/brands')
      .set('Authorization', bearer(world.alpha))
      .set('X-Forwarded-For', '203.0.113.9')
      .send({ name: 'Forwarded' });
    expect(res.status).to.equal(201);
    const [e] = await entriesAfter(sys, before);
    expect(e).to.include({ action: 'brand.create', target_id: res.body.id });
    expect(e.address).to.match(/^(::ffff:)?127\.0\.0\.1$/);
  });

  it('a change whose entry cannot be written answers 503 audit_unavailable with Retry-After, and is logged', async () => {
    // The entry's insert fails (a check no entry passes, made and dropped by this test).
    await sys.db.raw("alter table audit_entries add constraint audit_test_refuse check (action <> 'brand.create') not valid");
    try {
      const res = await sys.http().post('/v1/brands').set('Authorization', bearer(world.alpha)).send({ name: 'Unrecorded' });
      expect(res.status).to.equal(503);
      expect(res.body.error.code).to.equal('audit_unavailable');
      expect(res.headers['retry-after']).to.equal('1');
      // Nothing else about it is in the answer; the log says which route and why.
      expect(logged.filter((l) => l.event === 'audit_append_failed').map((l) => l.route)).to.deep.equal(['POST /v1/brands']);
    } finally {
      await sys.db.raw('alter table audit_entries drop constraint audit_test_refuse');
    }
  });
});
