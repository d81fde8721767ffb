import crypto from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../shared/platform/config';

/** A year: long enough for browsers to remember, as HSTS preload lists ask. */
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * The policy of every HTML page we serve (console, mailbox, /docs, the index, the claim page
 * has a stricter one of its own): everything from this origin only, never framed, no plugins, no
 * <base> elsewhere, and no inline script (no 'unsafe-inline' in script-src: a script must be a
 * file of ours). A page with an inline <style> names its hash (`styleHashes`).
 */
const PAGE_CSP_BASE = ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'", "form-action 'self'"];

export const styleHash = (css: string) => `'sha256-${crypto.createHash('sha256').update(css).digest('base64')}'`;

export function pageCsp(opts: { styleHashes?: string[]; extra?: string[] } = {}): string {
  const parts = [...PAGE_CSP_BASE];
  if (opts.styleHashes?.length) parts.push(`style-src 'self' ${opts.styleHashes.join(' ')}`);
  parts.push(...(opts.extra ?? []));
  return parts.join('; ');
}

/** The headers of an HTML page: its CSP, no framing (old browsers read X-Frame-Options), no sniffing. */
export function setPageHeaders(res: Pick<ServerResponse, 'setHeader'>, csp: string = pageCsp()) {
  res.setHeader('Content-Security-Policy', csp);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
}

/** What the request handlers after this one may ask of the deployment (see publicUrlOf). */
const publicUrls = new WeakMap<Request, string | undefined>();

/** PUBLIC_URL as this request's app was configured (undefined: not set, or no securityHeaders in front). */
export function publicUrlOf(req: Request): string | undefined {
  return publicUrls.get(req);
}

/**
 * Headers every answer carries: HSTS when PUBLIC_URL is https (the browser then never tries
 * plain http for this host, so a network attacker cannot strip TLS or set cookies over http).
 * Also remembers PUBLIC_URL for the session cookie's name (api/session-cookie.ts).
 */
export function securityHeaders(config: Config): RequestHandler {
  const https = config.PUBLIC_URL?.startsWith('https:') ?? false;
  return (req, res, next) => {
    publicUrls.set(req, config.PUBLIC_URL);
    if (https) res.set('Strict-Transport-Security', HSTS);
    next();
  };
}
