import type { RequestHandler } from 'express';
import type { Config } from '../shared/platform/config';

/**
 * Headers every answer carries (HSTS when PUBLIC_URL is https, …). Filled in by issue 17's
 * browser-edge work; a pass-through until then.
 */
export function securityHeaders(_config: Config): RequestHandler {
  return (_req, _res, next) => next();
}
