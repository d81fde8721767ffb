import type { Submitter } from '../shared/bulk/model';
import type { Request, RequestHandler } from 'express';
import type { Db } from '../shared/platform/db';
import { Unauthorized } from '../shared/platform/errors';
import { authenticate, type Reseller } from '../shared/accounts/resellers';
import { resellerForSession } from '../shared/accounts/sessions';
import { safeEqual } from '../shared/platform/secrets';
import { type AuthThrottle, type CredentialKind, requestInfo, secretPrefix } from '../shared/platform/throttle';
import { assertSameOrigin, readSessionCookie } from './session-cookie';

function bearer(req: Request): string | undefined {
  const h = req.get('authorization');
  const m = h?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}

/** The client address, for throttling per IP (behind a proxy, set Express' trust proxy accordingly). */
const clientIp = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** Makes the caller's IP and route known to shared/ (the throttle's log line) for this request. */
export const withRequestInfo: RequestHandler = (req, _res, next) => {
  requestInfo.run({ ip: clientIp(req), route: () => `${req.method} ${req.baseUrl}${req.route?.path ?? ''}` }, next);
};

/**
 * Checks a presented credential under the failed-authentication throttle: refused with 429 while
 * the caller's IP is blocked for that kind; a wrong credential counts against it and is logged.
 */
async function guarded<T>(
  guard: AuthThrottle | undefined,
  kind: CredentialKind,
  req: Request,
  presented: string | undefined,
  check: () => Promise<T>,
) {
  if (!guard || !presented) return check();
  await guard.assertAllowed(kind, clientIp(req));
  try {
    return await check();
  } catch (err) {
    if (err instanceof Unauthorized) await guard.failed(kind, clientIp(req), { keyPrefix: secretPrefix(presented) });
    throw err;
  }
}

/** How the console's session cookie is accepted where no Authorization header is sent. */
export interface SessionAuth {
  publicUrl: string | undefined;
  clock: () => Date;
}

export function requireReseller(db: Db, operatorKey: string, session?: SessionAuth, guard?: AuthThrottle): RequestHandler {
  return async (req, res, next) => {
    // A bearer key wins; the cookie is used only when there is none (a browser on the console).
    const cookie = session && !req.get('authorization') ? readSessionCookie(req) : undefined;
    if (session && cookie) {
      const found = await resellerForSession(db, cookie, session.clock());
      if (!found) throw new Unauthorized('Your console session has expired or ended; sign in again.');
      assertSameOrigin(req, session.publicUrl);
      res.locals.reseller = found;
      res.locals.sessionToken = cookie;
      // Per-key limits (event streams) count every stream of the key, whatever session opened it.
      res.locals.apiKeyId = String(found.session_key_id);
      res.locals.submitter = { via: 'session', key_prefix: found.session_key_prefix } satisfies Submitter;
      return next();
    }
    const key = bearer(req);
    const caller = await guarded(guard, 'api_key', req, key, () => authenticate(db, key, operatorKey));
    if (caller.kind !== 'reseller')
      throw new Unauthorized('This endpoint needs a reseller API key; the operator key acts for no reseller.');
    res.locals.reseller = caller.reseller;
    // Per-key limits (event streams) count by the key's row id, never the key itself.
    res.locals.apiKeyId = String(caller.apiKeyId);
    // The key's public prefix (as stored beside its hash), never the key.
    res.locals.submitter = { via: 'api_key', key_prefix: key!.slice(0, 8) } satisfies Submitter;
    next();
  };
}

export function requireOperator(db: Db, operatorKey: string, guard?: AuthThrottle): RequestHandler {
  return async (req, _res, next) => {
    const key = bearer(req);
    const caller = await guarded(guard, 'api_key', req, key, () => authenticate(db, key, operatorKey));
    if (caller.kind !== 'operator') throw new Unauthorized('This endpoint needs the operator key.');
    next();
  };
}

/** For the dashboard a browser can open: bearer or HTTP basic auth with the operator key as password. */
export function requireOperatorOrBasic(operatorKey: string, guard?: AuthThrottle): RequestHandler {
  return async (req, res, next) => {
    const key = bearer(req);
    const basic = req.get('authorization')?.match(/^Basic\s+(\S+)$/i);
    const password = basic ? Buffer.from(basic[1], 'base64').toString().split(':').slice(1).join(':') : undefined;
    await guarded(guard, 'operator_key', req, key ?? password, async () => {
      if ((key && safeEqual(key, operatorKey)) || (password && safeEqual(password, operatorKey))) return;
      res.set('WWW-Authenticate', 'Basic realm="domain-push operator"');
      throw new Unauthorized('The dashboard needs the operator key (Bearer, or basic auth with the key as password).');
    });
    next();
  };
}

/**
 * For routes whose credential is in the path (claim links): refused while the IP is blocked, and
 * each answer with one of `failures` (e.g. 404 for an unknown token) counts as a failed attempt.
 */
export function throttledByStatus(guard: AuthThrottle, kind: CredentialKind, failures: number[]): RequestHandler {
  return async (req, res, next) => {
    await guard.assertAllowed(kind, clientIp(req));
    const info = requestInfo.getStore();
    res.on('finish', () => {
      if (!failures.includes(res.statusCode)) return;
      requestInfo.run(info ?? {}, () => {
        guard.failed(kind, clientIp(req)).catch(() => undefined);
      });
    });
    next();
  };
}

export function me(res: { locals: Record<string, unknown> }): Reseller {
  return res.locals.reseller as Reseller;
}

/** Who is acting: a key (by its prefix) or a console session; recorded with what they submit. */
export function submitter(res: { locals: Record<string, unknown> }): Submitter | undefined {
  return res.locals.submitter as Submitter | undefined;
}
