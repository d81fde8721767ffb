import { z } from 'zod';
import { createSession, createSessionInput, endSession } from '../../shared/accounts/sessions';
import { parseInput } from '../../shared/platform/validation';
import { readBody } from '../http-basics';
import { json } from '../openapi/operation';
import { assertSameOrigin, clearSessionCookie, setSessionCookie } from '../session-cookie';
import { type Routes, send, fieldOf } from './route';

/**
 * Console sign-in: an API key exchanged for a session cookie (see api/session-cookie.ts). The key
 * is in the body, so the (small) body is read first; the sign-in throttles on the API key counter.
 */
export const sessions: Routes = {
  'POST /v1/sessions': {
    handle: ({ deps }) => [
      readBody,
      send(async (req, res) => {
        assertSameOrigin(req, deps.config.PUBLIC_URL, { allowMissing: true });
        const attempt = { ip: req.socket.remoteAddress, userAgent: req.get('user-agent') };
        const s = await createSession(deps, parseInput(createSessionInput, req.body).api_key, attempt);
        setSessionCookie(req, res, s.token, deps.config.PUBLIC_URL);
        return [201, { username: s.username, expires_at: s.expires_at }];
      }),
    ],
    audit: {
      action: 'session.create',
      target: 'session',
      targetId: () => null,
      // The key in the body signed in: its public prefix (as stored beside its hash), never the key.
      actor: (req) => ({ kind: 'api_key', id: fieldOf(req.body, 'api_key')?.slice(0, 8) ?? null }),
      owner: (_q, b) => fieldOf(b, 'username'),
    },
    summary: 'Console sign-in: exchange an API key for an httpOnly, SameSite=Strict session cookie (12 h)',
    description:
      "Sets the `dp_session` cookie (`__Host-dp_session` when PUBLIC_URL is https) and answers the session's binding in the `Session-Binding` header. Every request authenticated by that cookie must send the binding back in a `Session-Binding` header (a GET may use `?session_binding=`), else 401: a cookie set by a page on another port of the host is refused. A request that changes state must also carry this deployment's `Origin` (PUBLIC_URL's when set).",
    tag: 'Account',
    auth: 'none',
    body: createSessionInput,
    bodyRequired: true,
    replies: { 201: json('signed in', z.strictObject({ username: z.string(), expires_at: z.string() })) },
    errors: { 401: ['unauthorized'], 403: ['origin_mismatch'], 429: ['too_many_attempts'] },
  },
  'DELETE /v1/sessions/current': {
    handle: ({ deps, db }) =>
      send(async (req, res) => {
        if (res.locals.sessionToken) await endSession(db, res.locals.sessionToken);
        clearSessionCookie(req, res, deps.config.PUBLIC_URL);
        return [204, null];
      }),
    audit: { action: 'session.delete', target: 'session', targetId: () => null },
    summary: 'Console sign-out: ends the session and clears its cookie',
    tag: 'Account',
    auth: 'reseller',
    replies: { 204: { description: 'signed out' } },
    errors: { 403: ['origin_mismatch'] },
  },
};
