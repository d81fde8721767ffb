import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import { openApiPath } from '../../api/openapi/document';
import { EXAMPLE_API_KEY, REQUEST_EXAMPLES } from '../../api/openapi/examples';
import { LOSING, seedDemo } from '../../bin/demo-data';
import { hashSecret } from '../../shared/platform/secrets';
import { toText } from '../helpers/smtp';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

// The parsed document, walked by path: not worth a full OpenAPI type here.
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON document
type Json = any;

/** Where an example sits in the document, and the schema it must satisfy. */
interface Found {
  where: string;
  schemaPointer: string;
  value: unknown;
}

const escapePointer = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Every example of the document, wherever it is: `example`/`examples` of a media type or a
 * parameter (validated against its `schema`), and a schema's own `examples` (against that schema).
 */
function examplesIn(node: Json, path: string[] = []): Found[] {
  if (!node || typeof node !== 'object') return [];
  const found: Found[] = [];
  const here = `#/${path.map(escapePointer).join('/')}`;
  const isSchema = path.includes('schema') || path[path.length - 2] === 'schemas';
  if (!Array.isArray(node) && 'schema' in node) {
    const schemaPointer = `${here}/schema`;
    if ('example' in node) found.push({ where: `${here}/example`, schemaPointer, value: node.example });
    for (const [name, ex] of Object.entries((node.examples ?? {}) as Record<string, { value: unknown }>))
      found.push({ where: `${here}/examples/${escapePointer(name)}`, schemaPointer, value: ex.value });
  }
  if (isSchema && !Array.isArray(node) && Array.isArray(node.examples))
    node.examples.forEach((value: unknown, i: number) => {
      found.push({ where: `${here}/examples/${i}`, schemaPointer: here, value });
    });
  for (const [key, child] of Object.entries(node)) {
    if (key === 'examples' || key === 'example') continue;
    found.push(...examplesIn(child, [...path, key]));
  }
  return found;
}

/**
 * Every example of the OpenAPI document (api/openapi/examples.ts, shown by /docs) is valid against
 * its schema, and every request example is accepted by a running system as written, on the demo
 * data, with whatever the operation needs arranged first (a job to reschedule, a customer to
 * release, a claim token from the invitation email).
 */
describe('the examples of the OpenAPI document', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let doc: Json;
  let ajv: Ajv2020;
  const keys = { losing: '', gaining: '' };

  before(async () => {
    sys = await startSystem({ config: { CHUNK_SIZE: 10 } });
    const demo = await seedDemo(sys.rt.deps, 60);
    if (demo.alreadySeeded) throw new Error('a fresh database already had the demo data');
    keys.losing = demo.losingKey;
    keys.gaining = demo.gainingKey;
    // The sign-in example's key, made a key of losing-demo (keys are stored as hashes).
    const losing = await sys.db('resellers').where({ username: LOSING }).first('id');
    await sys
      .db('api_keys')
      .insert({ reseller_id: losing.id, key_hash: hashSecret(EXAMPLE_API_KEY), key_prefix: EXAMPLE_API_KEY.slice(0, 8) });
    doc = (await sys.http().get('/v1/openapi.json').expect(200)).body;
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc, 'doc');
  });
  after(async () => {
    await sys?.stop();
  });

  const validate = (schemaPointer: string, value: unknown) => {
    const check = ajv.compile({ $ref: `doc${schemaPointer}` });
    return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`);
  };

  it('every operation that takes a body shows examples, and every example in the document is valid against its schema', () => {
    const withoutExamples: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Json>>))
      for (const [method, op] of Object.entries(ops))
        if (op.requestBody && !Object.values(op.requestBody.content as Record<string, Json>).every((m) => m.examples || m.example))
          withoutExamples.push(`${method.toUpperCase()} ${path}`);
    expect(withoutExamples, 'operations whose body example Swagger UI would make up (add them to api/openapi/examples.ts)').to.deep.equal(
      [],
    );

    const found = examplesIn(doc);
    expect(found.length).to.be.at.least(Object.values(REQUEST_EXAMPLES).flatMap((e) => Object.keys(e)).length);
    const invalid = found.flatMap((f) => validate(f.schemaPointer, f.value).map((p) => `${f.where}: ${p}`));
    expect(invalid).to.deep.equal([]);
  });

  it('the document carries each example of api/openapi/examples.ts on its operation', () => {
    for (const [key, examples] of Object.entries(REQUEST_EXAMPLES)) {
      const [method, path] = key.split(' ');
      const op = doc.paths[openApiPath(path)]?.[method.toLowerCase()];
      expect(op, `${key} is not an operation of the document`).to.be.an('object');
      expect(op.requestBody?.content['application/json'].examples, key).to.deep.equal(examples);
    }
  });

  // ---- arranging what each operation needs, then sending the example as written ----

  interface Call {
    path: string;
    key?: string;
    headers?: Record<string, string>;
    /** Runs after the example was accepted (e.g. cancels the job it submitted). */
    after?: (body: Json) => Promise<void>;
  }

  const api = (method: 'get' | 'post', path: string, key: string, body?: unknown) => {
    const req = sys.http()[method](path).set('Authorization', `Bearer ${key}`);
    return body === undefined ? req : req.send(body as object);
  };
  const created = async (path: string, key: string, body: unknown) => {
    const res = await api('post', path, key, body);
    expect(res.status, `${path}: ${JSON.stringify(res.body)}`).to.be.within(200, 299);
    return res.body;
  };
  const finished = (key: string, id: string) =>
    waitUntil(
      `job ${id} finished`,
      async () => ['completed', 'cancelled', 'failed'].includes((await api('get', `/v1/jobs/${id}`, key)).body.status),
      60_000,
      50,
    );
  /** A job the example started ends cancelled (or finished), so the domains are free for the next example. */
  const cancelled = (key: string) => async (body: Json) => {
    if (!body.id || body.dry_run) return;
    await api('post', `/v1/jobs/${body.id}/cancel`, key);
    await finished(key, body.id);
  };
  const scheduledPush = async () =>
    (
      await created('/v1/bulk-pushes', keys.losing, {
        gaining_reseller: 'gaining-demo',
        domains: ['demo-00011.example'],
        start_after_seconds: 3600,
      })
    ).id;
  let customers = 0;
  const customer = async (extra: Record<string, unknown> = {}) =>
    (await created('/v1/customers', keys.losing, { name: `Arranged Customer ${++customers}`, ...extra })).id as string;
  /** A customer of losing-demo who is the registrant of `domain` (imported by the operator). */
  const registrant = async (domain: string, extra: Record<string, unknown> = {}) => {
    const id = await customer(extra);
    await created('/v1/admin/domains/import', OPERATOR_KEY, [{ name: domain, reseller: LOSING, customer: id }]);
    return id;
  };
  const claimed = new Set<string | undefined>();
  /**
   * A released customer's claim token, read from the invitation email (the token is stored
   * hashed). `email` is the customer's: an import must give the one on file.
   */
  const claimToken = async (email: string) => {
    const id = await registrant(`claimed-${customers + 1}.example`, { email });
    const release = await created(`/v1/customers/${id}/release`, keys.losing, {});
    await finished(keys.losing, release.id);
    const mail = await sys.smtp.waitFor((m) => toText(m).toLowerCase() === email && !claimed.has(m.messageId));
    claimed.add(mail.messageId);
    return /\/v1\/claims\/(claim_[A-Za-z0-9_-]+)/.exec(mail.text ?? '')![1];
  };

  /** What each operation needs before its example is sent; gets the example's body. */
  const ARRANGE: Record<string, (body: Json) => Promise<Call>> = {
    'POST /v1/admin/resellers': async () => ({ path: '/v1/admin/resellers', key: OPERATOR_KEY }),
    'PATCH /v1/admin/resellers/:username': async () => ({ path: '/v1/admin/resellers/gaining-demo', key: OPERATOR_KEY }),
    'POST /v1/admin/domains/import': async () => ({ path: '/v1/admin/domains/import', key: OPERATOR_KEY }),
    'POST /v1/sessions': async () => ({ path: '/v1/sessions' }),
    'POST /v1/api-keys': async () => ({ path: '/v1/api-keys', key: keys.losing }),
    'POST /v1/admin/resellers/:username/api-keys': async () => ({ path: '/v1/admin/resellers/losing-demo/api-keys', key: OPERATOR_KEY }),
    'PUT /v1/domains/:name/contact': async () => ({ path: '/v1/domains/demo-00000.example/contact', key: keys.losing }),
    'POST /v1/profiles': async () => ({ path: '/v1/profiles', key: keys.losing }),
    'POST /v1/brands': async () => ({ path: '/v1/brands', key: keys.losing }),
    'PATCH /v1/brands/:id': async () => ({
      path: `/v1/brands/${(await created('/v1/brands', keys.losing, { name: `Arranged Brand ${++customers}` })).id}`,
      key: keys.losing,
    }),
    'POST /v1/webhooks': async () => ({ path: '/v1/webhooks', key: keys.losing }),
    'PATCH /v1/webhooks/:id': async () => ({
      path: `/v1/webhooks/${(await created('/v1/webhooks', keys.losing, { url: 'https://hooks.example.com/arranged', event_types: ['bulk_job.finished'] })).id}`,
      key: keys.losing,
    }),
    'POST /v1/push-settings/allowed-resellers': async () => ({ path: '/v1/push-settings/allowed-resellers', key: keys.gaining }),
    'PUT /v1/push-settings/notification-email': async () => ({ path: '/v1/push-settings/notification-email', key: keys.gaining }),
    'POST /v1/bulk-pushes': async () => ({ path: '/v1/bulk-pushes', key: keys.losing, after: cancelled(keys.losing) }),
    'POST /v1/bulk-pushes/:id/reschedule': async () => ({
      path: `/v1/bulk-pushes/${await scheduledPush()}/reschedule`,
      key: keys.losing,
      after: cancelled(keys.losing),
    }),
    'POST /v1/jobs/:id/reschedule': async () => ({
      path: `/v1/jobs/${await scheduledPush()}/reschedule`,
      key: keys.losing,
      after: cancelled(keys.losing),
    }),
    'POST /v1/customers': async () => ({ path: '/v1/customers', key: keys.losing }),
    'PATCH /v1/customers/:id': async () => ({ path: `/v1/customers/${await customer()}`, key: keys.losing }),
    'POST /v1/customers/:id/packages': async () => ({ path: `/v1/customers/${await customer()}/packages`, key: keys.losing }),
    'POST /v1/customers/:id/packages/:pid/domains': async (body) => {
      const id = body.virtual ? await customer() : await registrant(body.domain);
      const pkg = await created(`/v1/customers/${id}/packages`, keys.losing, { name: 'Arranged package' });
      return { path: `/v1/customers/${id}/packages/${pkg.id}/domains`, key: keys.losing };
    },
    'POST /v1/customers/:id/release': async () => {
      const id = await registrant(`released-${customers + 1}.example`, { email: `released-${customers + 1}@customer.example` });
      return { path: `/v1/customers/${id}/release`, key: keys.losing, after: async (body) => void (await finished(keys.losing, body.id)) };
    },
    'POST /v1/claims/:token': async (body) => ({
      path: `/v1/claims/${await claimToken(body.email ?? `claimer-${customers + 1}@customer.example`)}`,
    }),
  };

  it('every operation with examples has an arrangement here', () => {
    expect(Object.keys(REQUEST_EXAMPLES).filter((k) => !ARRANGE[k])).to.deep.equal([]);
  });

  for (const [key, examples] of Object.entries(REQUEST_EXAMPLES))
    for (const [name, example] of Object.entries(examples))
      it(`${key}: the example "${name}" is accepted as written (2xx)`, async () => {
        const arrange = ARRANGE[key];
        expect(arrange, `no arrangement for ${key}`).to.be.a('function');
        const call = await arrange(example.value);
        const method = key.split(' ')[0].toLowerCase() as 'post' | 'put' | 'patch';
        let req = sys.http()[method](call.path).set('Content-Type', 'application/json');
        if (call.key) req = req.set('Authorization', `Bearer ${call.key}`);
        const res = await req.send(JSON.stringify(example.value));
        expect(res.status, `${key} "${name}" answered ${res.status}: ${JSON.stringify(res.body)}`).to.be.within(200, 299);
        await call.after?.(res.body);
      });
});
