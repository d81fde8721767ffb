import { z } from 'zod';
import type { Db } from '../platform/db';
import type { Deps } from '../platform/deps';
import { Unauthorized } from '../platform/errors';
import { hashSecret, newSecret } from '../platform/secrets';
import { secretPrefix } from '../platform/throttle';
import type { Reseller } from './resellers';

/** A console session lasts 12 h from sign-in, whatever happens in between (no sliding renewal). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export const createSessionInput = z.strictObject({ api_key: z.string().trim().min(1).max(200) });

export interface SignInAttempt {
  /** Client address as the socket sees it (the app does not trust proxy headers). */
  ip: string | undefined;
  userAgent: string | undefined;
}

/**
 * The one place a failed console sign-in is reported: a JSON line without the key, and one failure
 * counted by the shared auth throttle (Redis, per client IP), which answers 429 once past the limit.
 */
export async function throttleFailedSignIn(
  deps: Pick<Deps, 'log' | 'authThrottle'>,
  attempt: SignInAttempt,
  apiKey: string,
): Promise<void> {
  deps.log.warn({ event: 'sign_in_failed', ip: attempt.ip, user_agent: attempt.userAgent?.slice(0, 200) }, 'console sign-in failed');
  await deps.authThrottle.failed('sign_in', attempt.ip ?? 'unknown', { keyPrefix: secretPrefix(apiKey) });
}

/**
 * Exchanges a reseller API key for a session token (returned once, stored hashed). The operator
 * key acts for no reseller, so it cannot sign in to the console.
 */
export async function createSession(deps: Pick<Deps, 'db' | 'log' | 'clock' | 'authThrottle'>, apiKey: string, attempt: SignInAttempt) {
  await deps.authThrottle.assertAllowed('sign_in', attempt.ip ?? 'unknown');
  const key = await deps
    .db('api_keys as k')
    .join('resellers as r', 'r.id', 'k.reseller_id')
    .where({ 'k.key_hash': hashSecret(apiKey) })
    .whereNull('k.revoked_at')
    .first('k.id as key_id', 'r.id as reseller_id', 'r.username');
  if (!key) {
    await throttleFailedSignIn(deps, attempt, apiKey);
    throw new Unauthorized('The API key is not valid.');
  }
  const token = newSecret('dps');
  const expiresAt = new Date(deps.clock().getTime() + SESSION_TTL_MS);
  await deps.db('console_sessions').insert({
    token_hash: hashSecret(token),
    reseller_id: key.reseller_id,
    api_key_id: key.key_id,
    expires_at: expiresAt,
  });
  // Expired sessions of this reseller go here, so the table does not grow with history.
  await deps.db('console_sessions').where({ reseller_id: key.reseller_id }).where('expires_at', '<=', deps.clock()).del();
  deps.log.info({ event: 'sign_in', reseller: key.username }, 'console sign-in');
  return { token, username: key.username as string, expires_at: expiresAt };
}

/**
 * The reseller a live session acts for, with the public prefix of the key it was opened with (what
 * a job records as its submitter); an expired, ended or revoked-key session is no session.
 */
export async function resellerForSession(
  db: Db,
  token: string,
  now: Date,
): Promise<(Reseller & { session_key_prefix: string; session_key_id: number }) | undefined> {
  return db('console_sessions as s')
    .join('api_keys as k', 'k.id', 's.api_key_id')
    .join('resellers as r', 'r.id', 's.reseller_id')
    .where({ 's.token_hash': hashSecret(token) })
    .where('s.expires_at', '>', now)
    .whereNull('k.revoked_at')
    .first('r.*', 'k.key_prefix as session_key_prefix', 'k.id as session_key_id');
}

/** Sign-out: the session row goes, so the cookie is worthless even if a copy of it survives. */
export async function endSession(db: Db, token: string): Promise<void> {
  await db('console_sessions')
    .where({ token_hash: hashSecret(token) })
    .del();
}
