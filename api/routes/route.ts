import type { Request, RequestHandler, Response, Router } from 'express';
import type { BulkDeps } from '../../shared/bulk/kind';
import type { Db } from '../../shared/platform/db';
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
 * One route: its OpenAPI operation (api/openapi/document.ts reads it) and, beside it, `handle`:
 * the middlewares and handler that run after the guard its `auth` names. `operator` and `reseller`
 * authenticate from the headers, then read the body (readBody); `none` runs no guard, so its
 * handlers bring their own (a claim link's throttle) and read the body themselves.
 */
export type Route = Operation & { handle: (ctx: RouteContext) => RequestHandler | RequestHandler[] };

/** A resource's routes keyed `METHOD /express/path`, in matching order. */
export type Routes = Record<string, Route>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Registers `routes` on `r` in their order, each behind the guard its `auth` names. */
export function mount(r: Router, routes: Routes, ctx: RouteContext, guards: Record<Auth, RequestHandler[]>): void {
  for (const [key, route] of Object.entries(routes)) {
    const [method, path, ...rest] = key.split(' ');
    const m = method.toLowerCase() as (typeof METHODS)[number];
    if (!METHODS.includes(m) || !path?.startsWith('/') || rest.length) throw new Error(`route key "${key}" is not "METHOD /path"`);
    r[m](path, ...guards[route.auth], ...[route.handle(ctx)].flat());
  }
}

/** The operations of route tables, without their handlers: what the OpenAPI document describes. */
export function operationsOf(tables: Routes[]): Record<string, Operation> {
  const out: Record<string, Operation> = {};
  for (const table of tables)
    for (const [key, { handle: _handle, ...op }] of Object.entries(table)) {
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

/** A path parameter, as a string. */
export const param = (req: Request, name: string) => String(req.params[name]);
