import type { Router } from 'express';
import { z } from 'zod';
import type { KindTable } from '../../shared/bulk/kind';
import { ErrorBody, kindSchemas } from './responses';
import { REQUEST_EXAMPLES } from './examples';
import type { Operation } from './operation';
import { EXTRA_OPERATIONS, OPERATIONS, TAGS } from './operations';

interface RouteEntry {
  method: string;
  /** Express syntax: `/v1/jobs/:id`. */
  path: string;
}

/** The route table as Express holds it: every (method, path) a Router answers, with the routers it mounts at its root (r.use(router)). */
export function listRoutes(router: Router): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const layer of router.stack as unknown as {
    route?: { path: string | string[]; methods: Record<string, boolean> };
    handle?: Router;
  }[]) {
    if (!layer.route && Array.isArray(layer.handle?.stack)) out.push(...listRoutes(layer.handle));
    if (!layer.route) continue;
    const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
    for (const path of paths)
      for (const [method, on] of Object.entries(layer.route.methods))
        if (on && method !== '_all') out.push({ method: method.toUpperCase(), path });
  }
  return out;
}

export const routeKey = (r: RouteEntry) => `${r.method} ${r.path}`;
/** `/v1/jobs/:id` → `/v1/jobs/{id}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** Codes every route of a kind can answer, whatever it does. */
function commonErrors(op: Operation, method: string, hasParams: boolean): Record<number, string[]> {
  const e: Record<number, string[]> = { 500: ['internal_error'] };
  const add = (status: number, code: string) => {
    e[status] = [...(e[status] ?? []), code];
  };
  if (op.auth !== 'none') {
    add(401, 'unauthorized');
    add(429, 'too_many_attempts');
    // Postgres busy past lock_timeout, or a connection cut: nothing was written, try again.
    add(503, 'service_unavailable');
  }
  // The console's session cookie: a change must come from the console's own origin.
  if (op.auth === 'reseller' && !['GET', 'HEAD'].includes(method)) add(403, 'origin_mismatch');
  // A change whose audit entry could not be written is answered 503 (docs/audit.md).
  if (!['GET', 'HEAD'].includes(method)) add(503, 'audit_unavailable');
  // Every route: the input rule (api/clean-input.ts) checks the path and query of each request.
  add(400, 'invalid_request');
  if (op.body) {
    add(413, 'payload_too_large');
    add(415, 'unsupported_media_type');
  }
  if (hasParams) add(404, 'not_found');
  return e;
}

/** Named response shapes (`.meta({id})`), collected once into components.schemas. */
type Defs = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output', defs: Defs): Record<string, unknown> {
  // unrepresentable: transforms and refinements are described by their input/output type only.
  const raw = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema: _drop, $defs, ...rest } = tidy(raw) as Record<string, unknown> & { $defs?: Defs };
  Object.assign(defs, $defs ?? {});
  return rest;
}

/** Refs point at components; zod's safe-integer bounds on every integer are noise in a reference. */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/$defs/', '#/components/schemas/');
    else if ((k === 'minimum' && v === Number.MIN_SAFE_INTEGER) || (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)) continue;
    else out[k] = tidy(v);
  }
  return out;
}

/** The shared error shape, narrowed to the codes this response can carry. */
function errorSchema(codes: string[], defs: Defs) {
  jsonSchema(ErrorBody, 'output', defs);
  return {
    $ref: '#/components/schemas/Error',
    properties: { error: { properties: { code: { type: 'string', enum: [...new Set(codes)] } } } },
  };
}

const SECURITY: Record<Operation['auth'], unknown[]> = {
  reseller: [{ resellerKey: [] }],
  operator: [{ operatorKey: [] }],
  none: [],
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Missing or invalid API key',
  403: 'Not allowed',
  404: 'Not found (also: another reseller’s resource — no existence leak)',
  409: 'Conflict with the current state',
  410: 'Gone',
  413: 'Body too large',
  415: 'Body not sent as JSON',
  429: 'Over a limit (failed authentication, quota, event streams); see Retry-After',
  422: 'A reference does not resolve',
  500: 'Our fault; no internals in the message',
  503: 'A dependency is down; nothing was written (but `audit_unavailable`: the change was made, its audit entry was not)',
};

function operation(key: string, op: Operation | undefined, path: string, defs: Defs, kinds: KindTable) {
  const [method] = key.split(' ');
  const params = [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
  if (!op) {
    return {
      operationId: operationId(method, path),
      summary: 'UNDOCUMENTED: register this route through a table of api/routes/ (its operation beside its handler)',
      tags: ['Undocumented'],
      parameters: params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      responses: { default: { description: 'undocumented' } },
      'x-undocumented': true,
    };
  }
  const parameters: unknown[] = params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  if (op.query) {
    const q = jsonSchema(typeof op.query === 'function' ? op.query(kinds) : op.query, 'input', defs) as {
      properties?: Record<string, unknown>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(q.properties ?? {}))
      parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
  }
  for (const h of op.headers ?? [])
    parameters.push({
      name: h.name,
      in: 'header',
      required: false,
      description: h.description,
      schema: { type: 'string', maxLength: 200 },
    });

  const responses: Record<string, unknown> = {};
  for (const [status, reply] of Object.entries(op.replies)) {
    const content: Record<string, unknown> = {};
    if (reply.schema) content['application/json'] = { schema: jsonSchema(reply.schema, 'output', defs) };
    for (const media of reply.media ?? []) content[media] = { schema: { type: 'string' } };
    responses[status] = { description: reply.description, ...(Object.keys(content).length ? { content } : {}) };
  }
  const errors = commonErrors(op, method, params.length > 0);
  for (const [status, codes] of Object.entries(op.errors ?? {})) errors[Number(status)] = [...(errors[Number(status)] ?? []), ...codes];
  for (const [status, codes] of Object.entries(errors)) {
    responses[status] = {
      description: `${STATUS_TEXT[Number(status)] ?? 'Error'}: ${[...new Set(codes)].map((c) => `\`${c}\``).join(', ')}`,
      content: {
        'application/json': { schema: errorSchema(codes, defs) },
        ...Object.fromEntries((op.errorMedia ?? []).map((media) => [media, { schema: { type: 'string' } }])),
      },
    };
  }
  return {
    operationId: operationId(method, path),
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    security: SECURITY[op.auth],
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: op.bodyRequired ?? true,
            content: { 'application/json': { schema: jsonSchema(op.body, 'input', defs), ...bodyExamples(key) } },
          },
        }
      : {}),
    responses,
  };
}

/** The operation's request examples (api/openapi/examples.ts), shown by /docs instead of one made up from the schema. */
function bodyExamples(key: string) {
  const examples = REQUEST_EXAMPLES[key];
  return examples ? { examples } : {};
}

function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/v1/, '')
    .split('/')
    .filter(Boolean)
    .map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s));
  return [method.toLowerCase(), ...words]
    .join('-')
    .replace(/[^A-Za-z0-9]+(.)/g, (_m, c: string) => c.toUpperCase())
    .replace(/[^A-Za-z0-9]/g, '');
}

interface OpenApiOptions {
  version: string;
  /** The kinds the app runs with: the Job and Item schemas and the item filters list theirs. */
  kinds: KindTable;
}

/**
 * OpenAPI 3.1 for the route table (plus the routes app.ts serves itself): each route's request
 * body and query are the zod validators the route parses with, turned into JSON Schema 2020-12.
 */
export function buildOpenApi(routes: RouteEntry[], opts: OpenApiOptions) {
  const paths: Record<string, Record<string, unknown>> = {};
  const defs: Defs = {};
  const all = [
    ...Object.keys(EXTRA_OPERATIONS).map((k) => ({ key: k, op: EXTRA_OPERATIONS[k] })),
    ...routes.map((r) => ({ key: routeKey(r), op: OPERATIONS[routeKey(r)] })),
  ];
  for (const { key, op } of all) {
    const [method, path] = key.split(' ');
    const at = openApiPath(path);
    paths[at] = { ...paths[at], [method.toLowerCase()]: operation(key, op, path, defs, opts.kinds) };
  }
  // The job and item shapes of the app's kind table (kind names, done statuses, counts, reasons),
  // each converted inside a holder so that it lands in the components under its id.
  for (const schema of Object.values(kindSchemas(opts.kinds))) jsonSchema(z.object({ schema }), 'output', defs);
  return {
    openapi: '3.1.0',
    info: {
      title: 'domain-push',
      version: opts.version,
      summary: 'Bulk actions of a domain reseller platform: move domains to another reseller, release customers.',
      description: [
        'JSON under `/v1`, `Authorization: Bearer <api key>`. Reseller keys act for their reseller; the operator key for `/v1/admin/*`.',
        'Errors are `{"error": {"code", "message", "details"}}`; each response lists its codes. Lists answer `{"items", "next_cursor"}` and take `?limit=` (1–1000, default 100) and `?cursor=`.',
        'For people: the queue dashboard at `/admin/queues` and the mailbox at `/admin/emails` (basic auth, the operator key as password).',
      ].join('\n\n'),
      license: { name: 'UNLICENSED', identifier: 'LicenseRef-UNLICENSED' },
    },
    servers: [{ url: '/', description: 'this server' }],
    tags: Object.entries(TAGS)
      .filter(([name]) => all.some((a) => (a.op?.tag ?? 'Undocumented') === name))
      .map(([name, description]) => ({ name, description })),
    components: {
      securitySchemes: {
        resellerKey: { type: 'http', scheme: 'bearer', description: 'a reseller API key' },
        operatorKey: { type: 'http', scheme: 'bearer', description: 'the operator key (ADMIN_API_KEY)' },
      },
      schemas: Object.fromEntries(Object.entries(defs).sort(([a], [b]) => a.localeCompare(b))),
    },
    paths,
  };
}
