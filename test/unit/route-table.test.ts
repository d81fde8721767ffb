import { expect } from 'chai';
import { type RequestHandler, Router } from 'express';
import { readBody } from '../../api/http-basics';
import { OPERATIONS } from '../../api/openapi/operations';
import { ROUTE_TABLES } from '../../api/routes';
import { mount, operationsOf, type RouteContext, type Routes } from '../../api/routes/route';

type Layer = { route?: { path: string; methods: Record<string, boolean>; stack: { handle: RequestHandler }[] } };

/** Each route of a router: its key and its handlers, in order. */
function stacks(r: Router): { key: string; handlers: RequestHandler[]; audited: boolean }[] {
  return (r.stack as unknown as Layer[])
    .filter((l) => l.route)
    .map((l) => ({
      key: `${Object.keys(l.route!.methods)[0].toUpperCase()} ${l.route!.path}`,
      // The audit hook (api/routes/route.ts) of a state-changing route stands apart: see its own test below.
      handlers: l.route!.stack.map((s) => s.handle).filter((h) => h.name !== 'recordAudit'),
      audited: l.route!.stack.some((s) => s.handle.name === 'recordAudit'),
    }));
}

/**
 * The route table of api/routes/: each route's operation sits beside its handler, and the guard
 * that runs is the one its operation documents (issue 17: the body is read after authentication).
 */
describe('route table (api/routes)', () => {
  // Guards stand in for the real ones here: what is checked is which one each route gets, and where.
  const operator: RequestHandler = (_q, _s, next) => next();
  const reseller: RequestHandler = (_q, _s, next) => next();
  const ctx = { deps: { authThrottle: {} }, db: {}, now: () => new Date(), streams: {} } as unknown as RouteContext;
  const r = Router();
  for (const table of ROUTE_TABLES) mount(r, table, ctx, { operator: [operator], reseller: [reseller], none: [] });
  const routes = stacks(r);

  it('serves every documented route, in the order the document lists them, and nothing else', () => {
    expect(routes.length).to.be.above(40);
    expect(routes.map((x) => x.key)).to.deep.equal(Object.keys(OPERATIONS));
    for (const op of Object.values(OPERATIONS)) expect(op).not.to.have.property('handle');
  });

  it("runs the guard each operation's auth names first; a route without one reads its body only after its own check", () => {
    for (const { key, handlers } of routes) {
      const { auth } = OPERATIONS[key];
      if (auth === 'operator') expect(handlers[0], key).to.equal(operator);
      if (auth === 'reseller') expect(handlers[0], key).to.equal(reseller);
      // The guards read the body once the caller is known: no route reads it again, or before them.
      if (auth !== 'none') expect(handlers, key).not.to.include(readBody);
      if (auth === 'none') expect(handlers, key).not.to.include.members([operator, reseller]);
    }
    const none = Object.fromEntries(routes.filter((x) => OPERATIONS[x.key].auth === 'none').map((x) => [x.key, x.handlers]));
    expect(Object.keys(none)).to.deep.equal(['POST /v1/sessions', 'GET /v1/claims/:token', 'POST /v1/claims/:token']);
    // The sign-in's credential is in its (small) body; a claim's is in its path, throttled before the body is read.
    expect(none['POST /v1/sessions'][0]).to.equal(readBody);
    expect(none['GET /v1/claims/:token']).to.have.length(2).and.not.include(readBody);
    expect(none['POST /v1/claims/:token'].indexOf(readBody)).to.equal(1);
  });

  it('records every state-changing route in the audit trail: each non-GET route declares its action, right after its guard', () => {
    const tables = Object.assign({}, ...ROUTE_TABLES) as Routes;
    for (const { key, audited } of routes) {
      const changes = !key.startsWith('GET ');
      expect(audited, `${key}: audit hook`).to.equal(changes);
      if (!changes) continue;
      const { audit } = tables[key];
      expect(audit, `${key} declares no audit action`).to.be.an('object');
      expect(audit!.action, key).to.match(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/);
      expect(audit!.target, key).to.match(/^[a-z][a-z0-9_]*$/);
    }
    const ok: RequestHandler = (_q, _s, next) => next();
    const route = { summary: 's', tag: 't', auth: 'reseller', replies: {}, handle: () => ok } as const;
    const guards = { operator: [], reseller: [], none: [] };
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      expect(() => mount(Router(), { [`${method} /v1/x`]: route } as Routes, ctx, guards), method).to.throw(/declares no audit action/);
    expect(() => mount(Router(), { 'GET /v1/x': route } as Routes, ctx, guards)).not.to.throw();
  });

  it('refuses a table whose key is not "METHOD /path", and a route declared twice', () => {
    const route = { summary: 's', tag: 't', auth: 'none', replies: {}, handle: () => [] } as const;
    const guards = { operator: [], reseller: [], none: [] };
    for (const key of ['FETCH /v1/x', 'GET v1/x', 'GET /v1/x extra'])
      expect(() => mount(Router(), { [key]: route } as Routes, ctx, guards), key).to.throw(/is not "METHOD \/path"/);
    expect(() => operationsOf([{ 'GET /v1/x': route }, { 'GET /v1/x': route }])).to.throw(/declared twice/);
  });
});
