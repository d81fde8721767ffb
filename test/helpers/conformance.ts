import http, { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import request from 'supertest';
import { openApiDocument } from '../../api/docs';
import type { BulkDeps } from '../../shared/bulk/kind';

/**
 * Every answer a test system gives is checked against the OpenAPI document (/v1/openapi.json):
 * the (method, path template) must be an operation of it, the status one it lists, the media type
 * one it lists for that status, a JSON body must validate against its schema, and each `data:` of
 * an event stream's `progress`/`end` events must be a Job.
 *
 * Two places look, so a mismatch cannot pass unseen:
 * - the server (serveChecked): every answer on the wire, whoever asked (supertest, fetch, a raw
 *   http.get reading an event stream, the CLI in a child process), checked as it is written;
 *   what it finds is kept until the root hooks below fail the test (or hook) it happened in;
 * - the client (checkedRequest, what TestSystem.http() returns): a supertest request rejects
 *   with the mismatch, in the test that awaited it, next to its own assertions.
 * A test that catches that rejection still fails: the root afterEach sees what the server kept.
 */

/** Paths the document leaves out on purpose: pages and files for people, not the API. */
export const UNDOCUMENTED: readonly { prefix: string; why: string }[] = [
  { prefix: '/admin/queues', why: "bull-board's dashboard: its pages, assets and its own JSON API" },
  { prefix: '/admin/emails', why: 'the mailbox, HTML for the operator (its JSON is /v1/admin/emails)' },
  { prefix: '/console', why: "the reseller console's page and static files" },
  { prefix: '/docs', why: 'Swagger UI: its page, initializer and assets' },
];

const undocumented = (path: string) => UNDOCUMENTED.find((u) => path === u.prefix || path.startsWith(`${u.prefix}/`));

interface DocResponse {
  content?: Record<string, { schema?: unknown }>;
}
/** The parts of an OpenAPI document read here. */
export interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, DocResponse> }>>;
}

/** What a check needs to know about an answer; `body` is its text (absent: not read). */
export interface Answer {
  method: string;
  /** The request's path, without the query. */
  path: string;
  status: number;
  contentType: string;
  body?: string;
}

/** How an answer's body is checked, once its head (status, media type) is known. */
export interface Head {
  where: string;
  problems: string[];
  /** Why it is not checked (an UNDOCUMENTED prefix). */
  skipped?: string;
  body: 'json' | 'event-stream' | 'unchecked';
  validate?: ValidateFunction;
}

const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
const mediaTypeOf = (contentType: string) => contentType.split(';')[0].trim().toLowerCase();
const STREAM_EVENTS = new Set(['progress', 'end']);

/** A document's validators, compiled once each, on first use. */
export class DocumentChecker {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; pattern: RegExp; params: number }[];

  constructor(private readonly doc: OpenApiDoc) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(doc as object, 'doc');
    // Literal segments beat parameters: /v1/sessions/current before /v1/sessions/{id}.
    this.templates = Object.keys(doc.paths)
      .map((template) => ({
        template,
        pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
        params: template.match(/\{/g)?.length ?? 0,
      }))
      .sort((a, b) => a.params - b.params);
  }

  templateFor(path: string): string | undefined {
    return this.templates.find((t) => t.pattern.test(path))?.template;
  }

  private validator(ref: string, schema: object = { $ref: ref }): ValidateFunction {
    let v = this.validators.get(ref);
    if (!v) {
      v = this.ajv.compile(schema);
      this.validators.set(ref, v);
    }
    return v;
  }

  /** Status and media type against the document; says how the body is to be checked. */
  head(method: string, path: string, status: number, contentType: string): Head {
    const where = `${method} ${path} → ${status}`;
    const media = mediaTypeOf(contentType);
    const skip = undocumented(path);
    if (skip) return { where, problems: [], skipped: skip.why, body: 'unchecked' };
    const template = this.templateFor(path);
    // HEAD is answered by the GET route, without a body.
    const verb = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    const op = template ? this.doc.paths[template][verb] : undefined;
    if (!op) {
      // No route: the catch-all answers 404 not_found in the error shape, and nothing else.
      if (status === 404 && media === 'application/json') {
        const validate = this.validator('no-route', {
          allOf: [{ $ref: 'doc#/components/schemas/Error' }],
          properties: { error: { properties: { code: { const: 'not_found' } } } },
        });
        return { where, problems: [], body: 'json', validate };
      }
      const what = template ? `${method} ${template}` : `a path like ${path}`;
      return { where, problems: [`${where}: the document has no operation ${what}`], body: 'unchecked' };
    }
    const reply = op.responses[String(status)];
    if (!reply) {
      const listed = Object.keys(op.responses).join(', ');
      return {
        where,
        problems: [`${where}: status ${status} is not documented for ${method} ${template} (documented: ${listed})`],
        body: 'unchecked',
      };
    }
    if (status === 204 || status === 304 || verb !== method.toLowerCase()) return { where, problems: [], body: 'unchecked' };
    const documented = Object.keys(reply.content ?? {});
    if (!media) {
      return documented.length
        ? { where, problems: [`${where}: answered without a Content-Type; documented: ${documented.join(', ')}`], body: 'unchecked' }
        : { where, problems: [], body: 'unchecked' };
    }
    if (!reply.content?.[media]) {
      const listed = documented.join(', ') || 'no body';
      return { where, problems: [`${where}: content type ${media} is not documented (documented: ${listed})`], body: 'unchecked' };
    }
    if (media === 'application/json') {
      const ref = `doc#/${pointer('paths', template!, verb, 'responses', String(status), 'content', media, 'schema')}`;
      return { where, problems: [], body: 'json', validate: this.validator(ref) };
    }
    if (media === 'text/event-stream') return { where, problems: [], body: 'event-stream' };
    return { where, problems: [], body: 'unchecked' };
  }

  /** A whole JSON body. */
  json(head: Head, text: string): string[] {
    if (head.body !== 'json' || !head.validate) return [];
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return [`${head.where}: the body is not JSON: ${text.slice(0, 200)}`];
    }
    if (head.validate(value)) return [];
    return [`${head.where}: ${this.ajv.errorsText(head.validate.errors, { separator: '; ' })} in ${text.slice(0, 400)}`];
  }

  /** One event of a stream (the text between blank lines): `progress` and `end` carry a Job. */
  event(head: Head, block: string): string[] {
    const lines = block.split('\n');
    const event =
      lines
        .find((l) => l.startsWith('event:'))
        ?.slice(6)
        .trim() ?? 'message';
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!lines.some((l) => l.startsWith('data:'))) return [];
    if (!STREAM_EVENTS.has(event)) return [`${head.where}: event \`${event}\` is not one the document names (progress, end)`];
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return [`${head.where}: the data of a \`${event}\` event is not JSON: ${data.slice(0, 200)}`];
    }
    const validate = this.validator('doc#/components/schemas/Job');
    if (validate(value)) return [];
    return [
      `${head.where}: a \`${event}\` event is not a Job: ${this.ajv.errorsText(validate.errors, { separator: '; ' })} in ${data.slice(0, 400)}`,
    ];
  }

  /** Every event of a whole stream's text. */
  events(head: Head, text: string): string[] {
    if (head.body !== 'event-stream') return [];
    return text
      .replace(/\r\n?/g, '\n')
      .split('\n\n')
      .flatMap((block) => this.event(head, block));
  }

  /** A whole answer: head, then its body if it was read. */
  check(a: Answer): string[] {
    const head = this.head(a.method, a.path, a.status, a.contentType);
    if (head.problems.length || a.body === undefined) return head.problems;
    return [...this.json(head, a.body), ...this.events(head, a.body)];
  }
}

// One document and one set of compiled validators per kind table: the route table is the same for
// every system a test starts, but the document lists the kinds the app runs with (a test may add a
// fixture kind), so a system with another table gets its own document.
const checkers = new WeakMap<BulkDeps['kinds'], DocumentChecker>();
let checker: DocumentChecker | undefined;
function checkerFor(deps: BulkDeps): DocumentChecker {
  let found = checkers.get(deps.kinds);
  if (!found) {
    found = new DocumentChecker(JSON.parse(JSON.stringify(openApiDocument(deps))));
    checkers.set(deps.kinds, found);
  }
  checker = found;
  return found;
}
function currentChecker(): DocumentChecker {
  if (!checker) throw new Error('conformance: no OpenAPI document loaded; serve the app with serveChecked(app, deps) first');
  return checker;
}

/** Mismatches seen on the wire and not yet reported by a root hook. */
const seen: string[] = [];

/** Hands over (and forgets) the mismatches seen on the wire so far. */
export function takeMismatches(): string[] {
  return seen.splice(0);
}

export class ConformanceError extends Error {
  constructor(
    readonly problems: string[],
    also?: Error | null,
  ) {
    super(
      `the answer does not match the OpenAPI document (api/openapi/):\n  ${problems.join('\n  ')}${also ? `\n(and: ${also.message})` : ''}`,
    );
    this.name = 'ConformanceError';
  }
}

/** Checks an answer as the server writes it; what it finds goes to `seen`. */
function watch(res: ServerResponse, req: IncomingMessage, check: DocumentChecker) {
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0];
  if (undocumented(path)) return; // no buffering of console bundles and Swagger assets
  let head: Head | undefined;
  let done = false;
  const json: Buffer[] = [];
  let stream = '';
  const contentType = () => {
    const set = res.getHeader('content-type');
    if (set !== undefined) return String(set);
    // writeHead(status, headers) alone leaves getHeader empty; the header block on the wire has it.
    const sent = (res as unknown as { _header?: string | null })._header ?? '';
    return /^content-type:[ \t]*([^\r\n]*)/im.exec(sent)?.[1] ?? '';
  };
  const start = () => {
    if (head) return head;
    head = check.head(method, path, res.statusCode, contentType());
    seen.push(...head.problems);
    return head;
  };
  const feed = (chunk: unknown, encoding: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const h = start();
    if (h.body === 'unchecked' || h.problems.length) return;
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array);
    if (h.body === 'json') json.push(buf);
    else {
      // Events are checked as they are written: a stream the client drops never ends here.
      stream += buf.toString('utf8').replace(/\r\n?/g, '\n');
      const blocks = stream.split('\n\n');
      stream = blocks.pop()!;
      for (const b of blocks) seen.push(...check.event(h, b));
    }
  };
  // Own properties: Express swaps the prototype of every response for its own.
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    feed(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (!done) {
      done = true;
      feed(chunk, rest[0]);
      const h = start();
      if (h.body === 'json' && !h.problems.length) seen.push(...check.json(h, Buffer.concat(json).toString('utf8')));
      if (h.body === 'event-stream' && stream.trim()) seen.push(...check.event(h, stream));
    }
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}

/**
 * Serves an app on 127.0.0.1, port 0, checking every answer against the document of `deps`'s
 * route table (or a given checker). The app stays the server's request listener (tests reach
 * app.locals through it).
 */
export function serveChecked(app: Express, against: BulkDeps | DocumentChecker): Server {
  const check = against instanceof DocumentChecker ? against : checkerFor(against);
  class CheckedResponse extends ServerResponse {
    constructor(req: IncomingMessage, options?: unknown) {
      // @ts-expect-error Node passes options (highWaterMark, …) its typings do not list.
      super(req, options);
      watch(this, req, check);
    }
  }
  return http.createServer({ ServerResponse: CheckedResponse }, app).listen(0, '127.0.0.1');
}

type Agent = ReturnType<typeof request>;
type Test = ReturnType<Agent['get']>;
type EndCallback = Parameters<Test['end']>[0];

/** A supertest request whose answer must match the document, else it rejects (and `.end` gets the error). */
function checked(test: Test, against?: DocumentChecker): Test {
  // Where the test made the request: the error points there, not into supertest.
  const made = new Error('made');
  const end = test.end;
  test.end = function (this: Test, fn?: EndCallback) {
    return end.call(this, (err, res) => {
      const problems = res
        ? (against ?? currentChecker()).check({
            method: this.method,
            path: new URL(this.url).pathname,
            status: res.status,
            contentType: String(res.headers['content-type'] ?? ''),
            body: res.text,
          })
        : [];
      if (!problems.length) return fn?.call(this, err, res);
      const mismatch = new ConformanceError(problems, err);
      mismatch.stack = `${mismatch.name}: ${mismatch.message}\n${made.stack?.split('\n').slice(3).join('\n')}`;
      fn?.call(this, mismatch, res);
    });
  };
  return test;
}

/** supertest(url), each request checked against the document when its answer arrives. */
export function checkedRequest(url: string, against?: DocumentChecker): Agent {
  const agent = request(url);
  const out = { ...agent } as Agent;
  for (const [name, make] of Object.entries(agent) as [keyof Agent, (path: string) => Test][])
    if (typeof make === 'function') (out as unknown as Record<string, unknown>)[name] = (path: string) => checked(make(path), against);
  return out;
}

/**
 * Root hooks. The server writes an answer before the client reads it, so a mismatch a test
 * caused is known when its function settles: each test's function is wrapped to fail then (the
 * test fails, the run goes on). What comes later (an event written after the test, or during a
 * hook) fails the next hook instead, which stops the run: still loud, never swallowed.
 */
function report(when: string, problems: string[]) {
  if (problems.length) throw new ConformanceError(problems.map((p) => `${p} (${when})`));
}

const WRAPPED = Symbol('conformance');
function failOnMismatch(test: Mocha.Test) {
  const fn = test.fn as (Mocha.Func & { [WRAPPED]?: true }) | undefined;
  if (!fn || fn[WRAPPED]) return;
  const wrapped: Mocha.Func & { [WRAPPED]?: true } =
    fn.length > 0
      ? // A test that takes `done`: its callback reports the mismatches.
        function (this: Mocha.Context, done: Mocha.Done) {
          return fn.call(this, (err?: unknown) => {
            const problems = takeMismatches();
            if (err || !problems.length) return done(err);
            done(new ConformanceError(problems.map((p) => `${p} (in this test)`)));
          });
        }
      : async function (this: Mocha.Context) {
          try {
            await (fn as unknown as (this: Mocha.Context) => unknown).call(this);
          } catch (err) {
            takeMismatches(); // the test fails anyway, with its own error first
            throw err;
          }
          report('in this test', takeMismatches());
        };
  wrapped[WRAPPED] = true;
  test.fn = wrapped;
}

if (typeof beforeEach === 'function' && typeof afterEach === 'function' && typeof after === 'function') {
  beforeEach('answers match the OpenAPI document', function () {
    report('since the previous test: in a hook, or still written after a test ended', takeMismatches());
    if (this.currentTest) failOnMismatch(this.currentTest);
  });
  afterEach('answers match the OpenAPI document', function () {
    const problems = takeMismatches();
    if (this.currentTest?.state !== 'failed') report('after the test function settled', problems);
  });
  after('answers match the OpenAPI document', () => report('in an after hook', takeMismatches()));
}
