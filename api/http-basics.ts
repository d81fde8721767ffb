import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { AppError } from '../shared/platform/errors';
import type { Logger } from '../shared/platform/logger';

/** A caller's own request id is kept when it is a sane token, so logs can be joined across hops. */
const CALLER_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * One access log line per request (pino-http) with a request id, also sent back as X-Request-Id
 * and bound to `req.log`, so an error logged while serving carries it too. Headers are not logged
 * (the Authorization header never reaches a log line) and neither are query strings (cursors).
 */
export function accessLog(log: Logger): RequestHandler {
  return pinoHttp({
    logger: log,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && CALLER_ID.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${pathOf(fullUrl(req))} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOf(fullUrl(req))} ${res.statusCode}`,
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        path: pathOf(req.url),
        remote: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
  }) as unknown as RequestHandler;
}

/**
 * The path the client asked for. Inside a router mounted with app.use('/admin/emails', …) Express
 * strips the mount point from req.url, and a response that ends there would be logged as `GET /`.
 */
const fullUrl = (req: IncomingMessage) => (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url;

// A claim link's token is a credential: the access log names the route, never the token.
const pathOf = (url: string | undefined) => (url ?? '').split('?')[0].replace(/^(\/v1\/claims\/)[^/]+/, '$1[redacted]');

/** A request's path for a log line: no query, a claim link's token redacted. */
export const redactedPath = pathOf;

/**
 * A body sent without `Content-Type: application/json` (curl's `-d` sends a form type) would be
 * ignored and then fail validation with a misleading message; say what is wrong instead.
 * Bodiless requests (POST …/cancel) pass whatever their headers say.
 */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const length = Number(req.headers['content-length'] ?? 0);
  const hasBody = req.headers['transfer-encoding'] !== undefined || length > 0;
  if (!hasBody || req.is(['application/json', 'application/*+json'])) return next();
  throw new AppError(415, 'unsupported_media_type', 'Send JSON with Content-Type: application/json.', {
    content_type: (req.get('content-type') ?? '').slice(0, 100) || null,
  });
};

/** How a request's body is to be read, noted by deferBody until the caller is known. */
const pendingBodies = new WeakMap<Request, RequestHandler>();

/**
 * Request bodies are read only after authentication, so an anonymous caller costs no parsing.
 * This runs before it: a body whose declared size (Content-Length) is over its route's limit is
 * refused 413 at once, without reading it; else it notes how the body will be read (the route's
 * JSON parser with that limit, then `afterParse`, e.g. the depth and input checks). readBody,
 * called by the auth middlewares once the caller is known (and by the routes whose credential is
 * in the body or the path), reads it. A chunked body is held to the same limit while it is read.
 */
export function deferBody(limitFor: (req: Request) => number, afterParse: RequestHandler[]): RequestHandler {
  const parsers = new Map<number, RequestHandler>();
  const parser = (limit: number) => {
    let p = parsers.get(limit);
    if (!p) {
      p = express.json({ limit });
      parsers.set(limit, p);
    }
    return p;
  };
  return (req, _res, next) => {
    const limit = limitFor(req);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit)
      throw new AppError(413, 'payload_too_large', `The request body is larger than this route accepts (${limit} bytes).`);
    pendingBodies.set(req, inTurn([parser(limit), ...afterParse]));
    next();
  };
}

/** Reads the body deferBody noted (once; a request with none noted goes straight on). */
export const readBody: RequestHandler = (req, res, next) => {
  const read = pendingBodies.get(req);
  if (!read) return next();
  pendingBodies.delete(req);
  read(req, res, next);
};

/** Middlewares run one after the other, as one; the first error goes to `next`. */
function inTurn(handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const step = (err?: unknown) => {
      if (err) return next(err);
      const handler = handlers[i++];
      if (!handler) return next();
      try {
        const r = handler(req, res, step) as unknown;
        if (r instanceof Promise) r.catch(step);
      } catch (e) {
        step(e);
      }
    };
    step();
  };
}
