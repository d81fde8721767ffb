import type { Request, RequestHandler, Response, Router } from 'express';
import { type AuditActor, type AuditEntryInput, appendAuditEntry, operatorActorId } from '../../shared/audit/entries';
import type { BulkDeps } from '../../shared/bulk/kind';
import { hashSecret } from '../../shared/platform/secrets';
import type { Db } from '../../shared/platform/db';
import type { Logger } from '../../shared/platform/logger';
import { clientIp } from '../auth';
import type { Auth, Operation } from '../openapi/operation';
import type { JobStreams } from '../sse';

/** What a route's handlers are built from, once per app. */
export interface RouteContext {
  deps: BulkDeps;
  db: Db;
  now: () => Date;
  /** The app's one hub of job event streams (api/job-events.ts). */
  streams: JobStreams;
}

/**
 * What a state-changing route records in the audit trail (docs/audit.md). Every route whose method
 * is not GET declares one (`mount` refuses a table without it): after its handler answered below
 * 400 and before that answer leaves, one entry is appended with the caller (actor, address), the
 * target and a summary; if that fails the caller gets 503 `audit_unavailable` instead.
 */
interface AuditSpec {
  /** `resource.verb`: `customer.update`, `bulk_job.cancel`. */
  action: string;
  /** The resource type changed: `customer`, `bulk_job`, `api_key`. */
  target: string;
  /** The target's id; default: the path's `:id`, else its last parameter, else the answer's `id`. */
  targetId?: (req: Request, body: unknown) => string | null | undefined;
  /** Safe values worth keeping beside the changed field names (the body's keys, recorded anyway). */
  details?: (req: Request, body: unknown) => Record<string, unknown>;
  /** False: this success changed nothing (a dry run), so no entry. */
  when?: (req: Request, body: unknown) => boolean;
  /** The caller, where no guard knows it (a sign-in: the key in its body; a claim link). */
  actor?: (req: Request, res: Response, body: unknown) => AuditActor;
  /** The account (a username) the entry belongs to, where the route's guard does not say (operator routes, sign-in). */
  owner?: (req: Request, body: unknown) => string | undefined;
}

/**
 * One route: its OpenAPI operation (api/openapi/document.ts reads it) and, beside it, `handle`:
 * the middlewares and handler that run after the guard its `auth` names. `operator` and `reseller`
 * authenticate from the headers, then read the body (readBody); `none` runs no guard, so its
 * handlers bring their own (a claim link's throttle) and read the body themselves.
 */
type Route = Operation & { handle: (ctx: RouteContext) => RequestHandler | RequestHandler[]; audit?: AuditSpec };

/** A resource's routes keyed `METHOD /express/path`, in matching order. */
export type Routes = Record<string, Route>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Registers `routes` on `r` in their order, each behind the guard its `auth` names. */
export function mount(r: Router, routes: Routes, ctx: RouteContext, guards: Record<Auth, RequestHandler[]>): void {
  for (const [key, route] of Object.entries(routes)) {
    const [method, path, ...rest] = key.split(' ');
    const m = method.toLowerCase() as (typeof METHODS)[number];
    if (!METHODS.includes(m) || !path?.startsWith('/') || rest.length) throw new Error(`route key "${key}" is not "METHOD /path"`);
    if (m !== 'get' && !route.audit) throw new Error(`route ${key} changes state but declares no audit action (AuditSpec, docs/audit.md)`);
    const audit = route.audit ? [audited(key, route, ctx)] : [];
    r[m](path, ...guards[route.auth], ...audit, ...[route.handle(ctx)].flat());
  }
}

const bearer = (req: Request) => req.get('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];

/** Who called, as the guard that let the request in knows it: never a secret, only prefixes. */
function actorOf(route: Route, req: Request, res: Response): AuditActor {
  const via = res.locals.submitter as { via: 'api_key' | 'session'; key_prefix: string } | undefined;
  if (via?.via === 'session') {
    const session = res.locals.sessionToken ? hashSecret(String(res.locals.sessionToken)).slice(0, 8) : '?';
    return { kind: 'session', id: `${via.key_prefix}/${session}` };
  }
  if (via) return { kind: 'api_key', id: via.key_prefix };
  if (route.auth === 'operator') return { kind: 'operator', id: operatorActorId(bearer(req)) };
  // A route without a guard names its caller in its AuditSpec (`actor`); none does not.
  return { kind: 'api_key', id: null };
}

/** The target's id: the spec's, else the path's `:id` or last parameter, else the answer's `id`. */
function targetIdOf(spec: AuditSpec, req: Request, body: unknown): string | null {
  const fromSpec = spec.targetId?.(req, body);
  if (fromSpec !== undefined) return fromSpec;
  const params = req.params as Record<string, string>;
  const names = Object.keys(params);
  if (params.id !== undefined) return String(params.id);
  if (names.length) return String(params[names[names.length - 1]]);
  const id = (body as { id?: unknown } | undefined)?.id;
  return id === undefined || id === null ? null : String(id);
}

/** The changed fields: the request body's keys (names only, never values). */
const fieldsOf = (req: Request) =>
  req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? Object.keys(req.body).sort() : undefined;

/**
 * The recording hook of a state-changing route: its answer is held until the entry is appended
 * (recordBeforeAnswer). An answer of 400 or more, or a success its spec says changed nothing,
 * records nothing.
 */
function audited(key: string, route: Route, ctx: RouteContext): RequestHandler {
  const spec = route.audit!;
  // Named, so a test can tell it from the route's own handlers.
  return function recordAudit(req, res, next) {
    recordBeforeAnswer(req, res, ctx.deps, key, (body) => {
      if (spec.when && !spec.when(req, body)) return undefined;
      const me = res.locals.reseller as { id: number } | undefined;
      const summary = { fields: fieldsOf(req), ...spec.details?.(req, body) };
      return {
        resellerId: me ? Number(me.id) : undefined,
        resellerUsername: me ? undefined : (spec.owner?.(req, body) ?? (req.params as Record<string, string>).username),
        actor: spec.actor?.(req, res, body) ?? actorOf(route, req, res),
        action: spec.action,
        targetType: spec.target,
        targetId: targetIdOf(spec, req, body),
        summary: Object.fromEntries(Object.entries(summary).filter(([, v]) => v !== undefined)),
      };
    });
    next();
  };
}

/**
 * Holds `res`'s answer (`res.json`, or `res.end` for a 204 or a plain body) until the audit entry
 * `entryFor(body)` describes is appended, with the client address, `label` (the route) and the
 * status. An answer of 400 or more records nothing; `entryFor` answering undefined neither. A
 * failed append (or an `entryFor` that throws) is logged and answered 503 `audit_unavailable`
 * instead: the change itself stands (docs/audit.md), but no success goes out unrecorded.
 */
export function recordBeforeAnswer(
  req: Request,
  res: Response,
  deps: { db: Db; log: Pick<Logger, 'error'> },
  label: string,
  entryFor: (body: unknown) => Omit<AuditEntryInput, 'address' | 'route' | 'status'> | undefined,
): void {
  const json = res.json.bind(res);
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  let held = false;
  const hold = (body: unknown, answer: () => void) => {
    held = true;
    if (res.statusCode >= 400) return answer();
    // Built inside the promise: an entryFor that throws is a failed append, never an unrecorded success.
    Promise.resolve()
      .then(() => {
        const entry = entryFor(body);
        return entry && appendAuditEntry(deps.db, { ...entry, address: clientIp(req), route: label, status: res.statusCode });
      })
      .then(answer, (err: Error) => {
        deps.log.error({ event: 'audit_append_failed', route: label, err: err.message }, 'audit entry not written');
        // What a success would have handed out (a session cookie, its binding) is not given unrecorded.
        for (const h of ['Set-Cookie', 'Session-Binding', 'Location', 'Content-Length', 'Content-Type']) res.removeHeader(h);
        res.status(503).set('Retry-After', '1');
        json({
          error: {
            code: 'audit_unavailable',
            message: 'The change was made but its audit entry could not be written; check its state before you retry.',
          },
        });
      });
  };
  res.json = (body: unknown) => {
    if (held) return json(body);
    hold(body, () => json(body));
    return res;
  };
  res.end = ((...args: unknown[]) => {
    if (held) return end(...args);
    hold(undefined, () => end(...args));
    return res;
  }) as Response['end'];
}

/** The operations of route tables, without their handlers: what the OpenAPI document describes. */
export function operationsOf(tables: Routes[]): Record<string, Operation> {
  const out: Record<string, Operation> = {};
  for (const table of tables)
    for (const [key, { handle: _handle, audit: _audit, ...op }] of Object.entries(table)) {
      if (out[key]) throw new Error(`route ${key} is declared twice`);
      out[key] = op;
    }
  return out;
}

type Reply = [status: number, body: unknown];

/** A handler that answers `[status, body]`: JSON, or nothing for a 204. */
export const send =
  (fn: (req: Request, res: Response) => Promise<Reply>): RequestHandler =>
  async (req, res) => {
    const [status, body] = await fn(req, res);
    if (status === 204) res.status(204).end();
    else res.status(status).json(body);
  };

/** A field of an answer (or a request body) as a string, for an AuditSpec. */
export const fieldOf = (body: unknown, name: string): string | undefined => {
  const v = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return v === undefined || v === null ? undefined : String(v);
};

/** A path parameter, as a string. */
export const param = (req: Request, name: string) => String(req.params[name]);
