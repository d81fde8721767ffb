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

interface SignInAttempt {
  /** Client address as the socket sees it (the app does not trust proxy headers). */
  ip: string | undefined;
  userAgent: string | undefined;
}

/**
 * The one place a failed console sign-in is reported: a JSON line without the key, and one failure
 * counted by the shared auth throttle (Redis, per client IP), which answers 429 once past the limit.
 */
async function throttleFailedSignIn(deps: Pick<Deps, 'log' | 'authThrottle'>, attempt: SignInAttempt, apiKey: string): Promise<void> {
  deps.log.warn({ event: 'sign_in_failed', ip: attempt.ip, user_agent: attempt.userAgent?.slice(0, 200) }, 'console sign-in failed');
  await deps.authThrottle.failed('sign_in', attempt.ip ?? 'unknown', { keyPrefix: secretPrefix(apiKey) });
}

/**
 * Exchanges a reseller API key for a session token (returned once, stored hashed). The operator
 * key acts for no reseller, so it cannot sign in to the console.
 */
export async function createSession(
  deps: Pick<Deps, 'db' | 'log' | 'clock' | 'authThrottle' | 'config'>,
  apiKey: string,
  attempt: SignInAttempt,
) {
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
  // Again once the key is known right: a concurrent burst passed the first check before any of its
  // failures was counted; the address's tries used up answer 429 even for a right key.
  await deps.authThrottle.assertAllowed('sign_in', attempt.ip ?? 'unknown');
  const token = newSecret('dps');
  const now = deps.clock();
  const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
  const ended = await deps.db.transaction(async (trx): Promise<number> => {
    // Sign-ins of one key take turns, so two at once cannot both keep the oldest session.
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`console_sessions:${key.key_id}`]);
    await trx('console_sessions').insert({
      token_hash: hashSecret(token),
      reseller_id: key.reseller_id,
      api_key_id: key.key_id,
      expires_at: expiresAt,
    });
    // A key holds at most SESSIONS_PER_KEY live sessions: past it, the oldest ones end (their open
    // streams end at their next credential check, see api/sse.ts).
    const newest = trx('console_sessions')
      .where({ api_key_id: key.key_id })
      .where('expires_at', '>', now)
      .orderBy('id', 'desc')
      .limit(deps.config.SESSIONS_PER_KEY)
      .select('id');
    return trx('console_sessions').where({ api_key_id: key.key_id }).whereNotIn('id', newest).del();
  });
  // Expired sessions of this reseller go here too; everyone's are swept periodically (sweepExpiredSessions).
  await deps.db('console_sessions').where({ reseller_id: key.reseller_id }).where('expires_at', '<=', now).del();
  deps.log.info({ event: 'sign_in', reseller: key.username, sessions_ended: ended || undefined }, 'console sign-in');
  return { token, username: key.username as string, expires_at: expiresAt };
}

/** How many expired sessions one sweep deletes at most (the next sweep takes the rest). */
const SWEEP_BATCH = 10_000;

/**
 * Deletes expired console sessions of every reseller (expired rows are worthless: every lookup
 * checks expires_at). The API runs it on a timer (SESSION_SWEEP_MS, api/job-events.ts), so rows of
 * a reseller who never signs in again do not stay.
 */
export async function sweepExpiredSessions(db: Db, now: Date): Promise<number> {
  return db('console_sessions')
    .whereIn('id', db('console_sessions').where('expires_at', '<=', now).select('id').limit(SWEEP_BATCH))
    .del();
}

/** An open stream's credential: the key's row id, and the hashed session token for console callers. */
export interface LiveCredential {
  apiKeyId: string;
  sessionHash?: string;
}

/** The string an open stream's credential is known by in liveCredentials' answer. */
export const credentialId = (c: LiveCredential) => (c.sessionHash ? `s:${c.sessionHash}` : `k:${c.apiKeyId}`);

/**
 * Which of these credentials still hold, by credentialId, in one query whatever their number: a
 * session that exists, has not expired and whose key is not revoked; a key not revoked. The same
 * rules as resellerForSession and authenticate.
 */
export async function liveCredentials(db: Db, creds: LiveCredential[], now: Date): Promise<Set<string>> {
  const sessions = [...new Set(creds.flatMap((c) => (c.sessionHash ? [c.sessionHash] : [])))];
  const keys = [...new Set(creds.flatMap((c) => (c.sessionHash ? [] : [Number(c.apiKeyId)])))];
  if (sessions.length === 0 && keys.length === 0) return new Set();
  const rows: { id: string }[] = await db('console_sessions as s')
    .join('api_keys as k', 'k.id', 's.api_key_id')
    .whereIn('s.token_hash', sessions)
    .where('s.expires_at', '>', now)
    .whereNull('k.revoked_at')
    .select(db.raw("'s:' || s.token_hash as id"))
    .unionAll((q) => {
      q.from('api_keys').whereIn('id', keys).whereNull('revoked_at').select(db.raw("'k:' || id as id"));
    });
  return new Set(rows.map((r) => r.id));
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
