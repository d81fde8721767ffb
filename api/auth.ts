import type { Submitter } from '../shared/bulk/model';
import type { Request, RequestHandler } from 'express';
import type { Db } from '../shared/platform/db';
import { Forbidden, Unauthorized } from '../shared/platform/errors';
import { isOperatorKey, type OperatorKeys } from '../shared/accounts/api-keys';
import { authenticate, type Reseller } from '../shared/accounts/resellers';
import { resellerForSession } from '../shared/accounts/sessions';
import { safeEqual } from '../shared/platform/secrets';
import { type AuthThrottle, type CredentialKind, requestInfo, secretPrefix } from '../shared/platform/throttle';
import { readBody, redactedPath } from './http-basics';
import { assertSameOrigin, readSessionCookie } from './session-cookie';

function bearer(req: Request): string | undefined {
  const h = req.get('authorization');
  const m = h?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}

/**
 * The client address, for throttling per IP (behind a proxy, set Express' trust proxy accordingly);
 * the throttle counts IPv6 by its /64 and IPv4-mapped addresses as IPv4 (throttleAddress).
 */
export const clientIp = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/**
 * Makes the caller's IP and route known to shared/ (the throttle's log line) for this request: the
 * route pattern once a route matched, else the path (a claim link's token redacted).
 */
export const withRequestInfo: RequestHandler = (req, _res, next) => {
  requestInfo.run(
    { ip: clientIp(req), route: () => `${req.method} ${req.route ? `${req.baseUrl}${req.route.path}` : redactedPath(req.originalUrl)}` },
    next,
  );
};

/** What the log line of a failed attempt says of the credential: its prefix, or that there was none. */
const presentedAs = (secret: string | undefined) => (secret ? { keyPrefix: secretPrefix(secret) } : { missing: true });

/**
 * Checks a credential under the failed-authentication throttle (one counter per credential kind
 * and client address, see shared/platform/throttle.ts): refused with 429 while the address has
 * no tries left; a wrong or missing credential is counted first, then answered (401 within the
 * limit, 429 past it); a right one is checked against the block again once verified, so a key
 * in a concurrent burst that used up the tries meanwhile gets the same 429 as the wrong ones.
 *
 * The first block check and the credential's lookup run at once, and the block wins: every
 * request waits for one of the two, not both in turn. On a machine busy with a push each round
 * trip waits for a core (Redis' p95 was 10 ms there), and this is on every authenticated request.
 * The price: a blocked address still costs one indexed lookup per try (its answer is dropped).
 */
async function guarded<T>(
  guard: AuthThrottle | undefined,
  kind: CredentialKind,
  req: Request,
  presented: Record<string, unknown>,
  check: () => Promise<T>,
): Promise<T> {
  if (!guard) return check();
  const ip = clientIp(req);
  const missing = { missing: presented.missing === true };
  const [allowed, checked] = await Promise.allSettled([guard.assertAllowed(kind, ip, missing), check()]);
  if (allowed.status === 'rejected') throw allowed.reason;
  if (checked.status === 'rejected') {
    if (checked.reason instanceof Unauthorized) await guard.failed(kind, ip, presented);
    throw checked.reason;
  }
  await guard.assertAllowed(kind, ip, missing);
  return checked.value;
}

/** How the console's session cookie is accepted where no Authorization header is sent. */
interface SessionAuth {
  publicUrl: string | undefined;
  clock: () => Date;
}

/**
 * A reseller's request: by a bearer API key, or (no Authorization header) the console's session
 * cookie. Authentication uses the headers only; the body is read after it (readBody), so an
 * anonymous caller costs no parsing.
 */
export function requireReseller(db: Db, operatorKey: string | OperatorKeys, session?: SessionAuth, guard?: AuthThrottle): RequestHandler {
  return async (req, res, next) => {
    // A bearer key wins; the cookie is used only when there is none (a browser on the console).
    if (session && !req.get('authorization') && req.get('cookie')) {
      const found = await guarded(guard, 'session', req, { credential: 'session_cookie' }, async () => {
        const cookie = readSessionCookie(req);
        if (!cookie) return undefined;
        const reseller = await resellerForSession(db, cookie, session.clock());
        if (!reseller) throw new Unauthorized('Your console session has expired or ended; sign in again.');
        return { cookie, reseller };
      });
      if (found) {
        assertSameOrigin(req, session.publicUrl);
        res.locals.reseller = found.reseller;
        res.locals.sessionToken = found.cookie;
        // Per-key limits (event streams) count every stream of the key, whatever session opened it.
        res.locals.apiKeyId = String(found.reseller.session_key_id);
        res.locals.submitter = { via: 'session', key_prefix: found.reseller.session_key_prefix } satisfies Submitter;
        return readBody(req, res, next);
      }
    }
    const key = bearer(req);
    const caller = await guarded(guard, 'api_key', req, presentedAs(key), () => authenticate(db, key, operatorKey));
    if (caller.kind !== 'reseller')
      throw new Unauthorized('This endpoint needs a reseller API key; the operator key acts for no reseller.');
    res.locals.reseller = caller.reseller;
    // Per-key limits (event streams) count by the key's row id, never the key itself.
    res.locals.apiKeyId = String(caller.apiKeyId);
    // The key's public prefix (as stored beside its hash), never the key.
    res.locals.submitter = { via: 'api_key', key_prefix: key!.slice(0, 8) } satisfies Submitter;
    readBody(req, res, next);
  };
}

export function requireOperator(db: Db, operatorKey: string | OperatorKeys, guard?: AuthThrottle): RequestHandler {
  return async (req, res, next) => {
    const key = bearer(req);
    const caller = await guarded(guard, 'api_key', req, presentedAs(key), () => authenticate(db, key, operatorKey));
    if (caller.kind !== 'operator') throw new Unauthorized('This endpoint needs the operator key.');
    readBody(req, res, next);
  };
}

/**
 * For the dashboard a browser can open: bearer or HTTP basic auth with the operator key as password.
 * Counted on the same counter as the operator key through /v1/admin (kind operator_key, counter api_key).
 */
export function requireOperatorOrBasic(operatorKey: string | OperatorKeys, guard?: AuthThrottle): RequestHandler {
  return async (req, res, next) => {
    const key = bearer(req);
    const basic = req.get('authorization')?.match(/^Basic\s+(\S+)$/i);
    const password = basic ? Buffer.from(basic[1], 'base64').toString().split(':').slice(1).join(':') : undefined;
    await guarded(guard, 'operator_key', req, presentedAs(key ?? password), async () => {
      if (isOperatorKey(key, operatorKey) || isOperatorKey(password, operatorKey)) return;
      res.set('WWW-Authenticate', 'Basic realm="domain-push operator"');
      throw new Unauthorized('The dashboard needs the operator key (Bearer, or basic auth with the key as password).');
    });
    next();
  };
}

/**
 * /metrics: Bearer METRICS_TOKEN only (what Prometheus is given; the operator key opens nothing
 * here), throttled and logged like every credential (kind metrics_token). Unset, nothing can
 * scrape: 403 `metrics_disabled` says which setting turns it on.
 */
export function requireMetricsToken(token: string | undefined, guard?: AuthThrottle): RequestHandler {
  return async (req, _res, next) => {
    if (!token) throw metricsDisabled();
    const presented = bearer(req);
    await guarded(guard, 'metrics_token', req, presentedAs(presented), async () => {
      if (!presented || !safeEqual(presented, token)) throw new Unauthorized('/metrics needs Authorization: Bearer <METRICS_TOKEN>.');
    });
    next();
  };
}

const metricsDisabled = () =>
  new Forbidden(
    'metrics_disabled',
    '/metrics is off in this deployment: set METRICS_TOKEN (at least 16 characters) and scrape with Authorization: Bearer <METRICS_TOKEN>.',
  );

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
