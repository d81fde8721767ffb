import type { Request, Response } from 'express';
import { SESSION_TTL_MS } from '../shared/accounts/sessions';
import { Forbidden } from '../shared/platform/errors';

/** The console's session cookie: httpOnly (no script reads it), SameSite=Strict, whole site. */
export const SESSION_COOKIE = 'dp_session';

export function readSessionCookie(req: Request): string | undefined {
  const header = req.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(eq + 1).trim()) || undefined;
  }
  return undefined;
}

/** Secure whenever the console is reached over HTTPS (directly, or as PUBLIC_URL says behind a proxy). */
function secure(req: Request, publicUrl: string | undefined): boolean {
  return req.secure || (publicUrl?.startsWith('https:') ?? false);
}

export function setSessionCookie(req: Request, res: Response, token: string, publicUrl: string | undefined) {
  res.cookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    maxAge: SESSION_TTL_MS,
    secure: secure(req, publicUrl),
  });
}

export function clearSessionCookie(req: Request, res: Response, publicUrl: string | undefined) {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/', secure: secure(req, publicUrl) });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery guard for cookie-authenticated requests: a state-changing request
 * must carry an Origin equal to this server's own (as the browser reached it, or PUBLIC_URL).
 * SameSite=Strict already keeps the cookie off cross-site requests; this also covers same-site
 * sibling origins and old browsers. A missing Origin is refused too: browsers send it on every
 * POST/PUT/PATCH/DELETE, and only a browser holds the cookie.
 */
export function assertSameOrigin(req: Request, publicUrl: string | undefined, opts: { allowMissing?: boolean } = {}) {
  if (SAFE_METHODS.has(req.method)) return;
  const origin = req.get('origin');
  if (!origin && opts.allowMissing) return;
  const own = new Set([`${req.protocol}://${req.get('host')}`]);
  if (publicUrl) own.add(new URL(publicUrl).origin);
  if (!origin || !own.has(origin))
    throw new Forbidden(
      'origin_mismatch',
      'This request changes something and was signed in by a session cookie, but it does not come from this console (Origin header missing or foreign).',
    );
}
