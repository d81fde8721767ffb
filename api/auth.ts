import type { Request, RequestHandler } from 'express';
import type { Db } from '../shared/platform/db';
import { Unauthorized } from '../shared/platform/errors';
import { authenticate, type Reseller } from '../shared/accounts/resellers';
import { resellerForSession } from '../shared/accounts/sessions';
import { safeEqual } from '../shared/platform/secrets';
import { assertSameOrigin, readSessionCookie } from './session-cookie';

function bearer(req: Request): string | undefined {
  const h = req.get('authorization');
  const m = h?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}

/** How the console's session cookie is accepted where no Authorization header is sent. */
export interface SessionAuth {
  publicUrl: string | undefined;
  clock: () => Date;
}

export function requireReseller(db: Db, operatorKey: string, session?: SessionAuth): RequestHandler {
  return async (req, res, next) => {
    // A bearer key wins; the cookie is used only when there is none (a browser on the console).
    const cookie = session && !req.get('authorization') ? readSessionCookie(req) : undefined;
    if (session && cookie) {
      const found = await resellerForSession(db, cookie, session.clock());
      if (!found) throw new Unauthorized('Your console session has expired or ended; sign in again.');
      assertSameOrigin(req, session.publicUrl);
      res.locals.reseller = found;
      res.locals.sessionToken = cookie;
      return next();
    }
    const caller = await authenticate(db, bearer(req), operatorKey);
    if (caller.kind !== 'reseller')
      throw new Unauthorized('This endpoint needs a reseller API key; the operator key acts for no reseller.');
    res.locals.reseller = caller.reseller;
    next();
  };
}

export function requireOperator(db: Db, operatorKey: string): RequestHandler {
  return async (req, _res, next) => {
    const caller = await authenticate(db, bearer(req), operatorKey);
    if (caller.kind !== 'operator') throw new Unauthorized('This endpoint needs the operator key.');
    next();
  };
}

/** For the dashboard a browser can open: bearer or HTTP basic auth with the operator key as password. */
export function requireOperatorOrBasic(operatorKey: string): RequestHandler {
  return (req, res, next) => {
    const key = bearer(req);
    const basic = req.get('authorization')?.match(/^Basic\s+(\S+)$/i);
    const password = basic ? Buffer.from(basic[1], 'base64').toString().split(':').slice(1).join(':') : undefined;
    if ((key && safeEqual(key, operatorKey)) || (password && safeEqual(password, operatorKey))) return next();
    res.set('WWW-Authenticate', 'Basic realm="domain-push operator"');
    throw new Unauthorized('The dashboard needs the operator key (Bearer, or basic auth with the key as password).');
  };
}

export function me(res: { locals: Record<string, unknown> }): Reseller {
  return res.locals.reseller as Reseller;
}
