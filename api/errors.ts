import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, InvalidRequest, NotFound, TooManyRequests } from '../shared/platform/errors';
import type { Logger } from '../shared/platform/logger';
import { isTransientFault } from '../shared/platform/faults';

export const notFoundRoute: RequestHandler = (req) => {
  throw new NotFound(`No route for ${req.method} ${req.path}.`);
};

/** The one place any error becomes the spec's `{error: {code, message, details}}`; internals never leak. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: AppError;
    if (err instanceof AppError) e = err;
    else if (err?.type === 'entity.parse.failed')
      e = new InvalidRequest('The request body is not valid JSON.', { fields: [{ path: 'body', message: 'malformed JSON' }] });
    else if (err?.type === 'entity.too.large')
      e = new AppError(413, 'payload_too_large', `The request body is larger than this route accepts (${err.limit} bytes).`);
    else if (err?.status === 415 && typeof err?.type === 'string')
      e = new AppError(415, 'unsupported_media_type', 'The request body uses an unsupported Content-Encoding or charset.');
    else if (Number.isInteger(err?.status) && err.status >= 400 && err.status < 500 && err?.expose !== false && !err?.type)
      // zlib/brotli refusing a body that is not what its Content-Encoding says.
      e = new InvalidRequest('The request body could not be decoded as its Content-Encoding says.', {
        fields: [{ path: 'body', message: 'not valid for its Content-Encoding' }],
      });
    else if (isTransientFault(err)) {
      // lock_timeout, a cut connection, Postgres restarting: a fault of the moment, not of the
      // request, so the answer says to ask again (writes are idempotent or keyed where it matters).
      (req.log ?? log).warn({ err: err?.message, method: req.method, route: req.route?.path ?? 'unmatched' }, 'transient fault');
      e = new AppError(503, 'service_unavailable', 'The database did not answer in time (busy or restarting); try again in a moment.');
      res.set('Retry-After', '1');
    } else {
      (req.log ?? log).error(
        { err: { message: err?.message, stack: err?.stack }, method: req.method, route: req.route?.path ?? 'unmatched' },
        'unhandled error',
      );
      e = new AppError(500, 'internal_error', 'Something went wrong on our side.');
    }
    if (res.headersSent) return res.end();
    if (e instanceof TooManyRequests) res.set('Retry-After', String(e.retryAfterSeconds));
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } });
  };
}
