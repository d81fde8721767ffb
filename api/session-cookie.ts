import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import { SESSION_TTL_MS } from '../shared/accounts/sessions';
import { Forbidden, Unauthorized } from '../shared/platform/errors';
import { safeEqual } from '../shared/platform/secrets';
import { publicUrlOf } from './security-headers';

/**
 * The console's session cookie: httpOnly (no script reads it), SameSite=Strict, whole site. When
 * PUBLIC_URL is https it is `__Host-dp_session`: a browser takes that name only from a secure
 * origin, for Path=/ and without Domain, so no other host (a sibling subdomain) can set it.
 */
const SESSION_COOKIE = 'dp_session';
const HOST_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

/**
 * Cookies do not keep ports apart: a page on another port of the same host can set (toss) a
 * session cookie of its own, and the console would run signed in as that page's account. So the
 * session is also bound to something only the console's own origin holds: sign-in answers a
 * binding (`Session-Binding` header; derived from the token, so nothing more is stored) that the
 * console keeps in localStorage (scoped to scheme, host and port) and sends back with every call.
 * A cookie without its binding is refused 401. EventSource and download links cannot send a
 * header: a GET may carry it as `?session_binding=` instead (it is no credential without the cookie).
 */
const BINDING_HEADER = 'Session-Binding';
const BINDING_QUERY = 'session_binding';

function sessionBinding(token: string): string {
  return crypto.createHmac('sha256', token).update('domain-push console session binding v1').digest('base64url');
}

const usesHostCookie = (publicUrl: string | undefined) => publicUrl?.startsWith('https:') ?? false;
const sessionCookieName = (publicUrl: string | undefined) => (usesHostCookie(publicUrl) ? HOST_SESSION_COOKIE : SESSION_COOKIE);

function presentedBinding(req: Request): string | undefined {
  const header = req.get(BINDING_HEADER);
  if (header) return header;
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  const q = new URL(req.originalUrl, 'http://x').searchParams.getAll(BINDING_QUERY);
  return q.length === 1 ? q[0] : undefined;
}

/**
 * The session token of the request's cookie, once it is known to come from the console itself:
 * refused (401) when more than one session cookie is sent (one was tossed beside the real one)
 * or when the binding is missing or belongs to another session.
 */
export function readSessionCookie(req: Request): string | undefined {
  const header = req.get('cookie');
  if (!header) return undefined;
  const name = sessionCookieName(publicUrlOf(req));
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      let value = part.slice(eq + 1).trim();
      try {
        value = decodeURIComponent(value);
      } catch {
        throw new Unauthorized('The console session cookie is malformed; sign in again.');
      }
      if (value) values.push(value);
    }
  }
  if (values.length === 0) return undefined;
  if (values.length > 1)
    throw new Unauthorized('More than one console session cookie was sent (one may have been set by another site); sign in again.');
  const token = values[0];
  const binding = presentedBinding(req);
  if (!binding || !safeEqual(binding, sessionBinding(token)))
    throw new Unauthorized(
      `This console session cookie was sent without its ${BINDING_HEADER} (it may have been set by another site); sign in again.`,
    );
  return token;
}

/** Secure whenever the console is reached over HTTPS (directly, or as PUBLIC_URL says behind a proxy). */
function secure(req: Request, publicUrl: string | undefined): boolean {
  return req.secure || (publicUrl?.startsWith('https:') ?? false);
}

/** Sets the cookie and answers the session's binding in the `Session-Binding` header (see above). */
export function setSessionCookie(req: Request, res: Response, token: string, publicUrl: string | undefined) {
  res.cookie(sessionCookieName(publicUrl), token, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    maxAge: SESSION_TTL_MS,
    secure: secure(req, publicUrl),
  });
  res.set(BINDING_HEADER, sessionBinding(token));
}

export function clearSessionCookie(req: Request, res: Response, publicUrl: string | undefined) {
  res.clearCookie(sessionCookieName(publicUrl), { httpOnly: true, sameSite: 'strict', path: '/', secure: secure(req, publicUrl) });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * This deployment's own origin: PUBLIC_URL's when it is set (then a Host header, which a client
 * chooses, never counts), else the origin the request reached.
 */
export function ownOrigin(req: Request, publicUrl: string | undefined): string {
  return publicUrl ? new URL(publicUrl).origin : `${req.protocol}://${req.get('host')}`;
}

/**
 * Cross-site request forgery guard for cookie-authenticated requests: a state-changing request
 * must carry an Origin equal to this server's own (PUBLIC_URL's, else as the browser reached it).
 * SameSite=Strict already keeps the cookie off cross-site requests; this also covers same-site
 * sibling origins and old browsers. A missing Origin is refused too: browsers send it on every
 * POST/PUT/PATCH/DELETE, and only a browser holds the cookie.
 */
export function assertSameOrigin(req: Request, publicUrl: string | undefined, opts: { allowMissing?: boolean } = {}) {
  if (SAFE_METHODS.has(req.method)) return;
  const origin = req.get('origin');
  if (!origin && opts.allowMissing) return;
  if (!origin || origin !== ownOrigin(req, publicUrl))
    throw new Forbidden(
      'origin_mismatch',
      'This request changes something and was signed in by a session cookie, but it does not come from this console (Origin header missing or foreign).',
    );
}
