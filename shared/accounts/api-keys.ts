import type { Knex } from 'knex';
import { z } from 'zod';
import { recordEvents } from '../events/events';
import type { Config } from '../platform/config';
import type { Db } from '../platform/db';
import { Conflict, NotFound } from '../platform/errors';
import type { Logger } from '../platform/logger';
import { hashSecret, newSecret, safeEqual } from '../platform/secrets';
import { requestInfo } from '../platform/throttle';
import { decodeCursor, listQuery, pageOf, parseInput, plainName } from '../platform/validation';

/** Live keys one reseller may hold: a retried create cannot pile up keys without bound. */
export const MAX_LIVE_KEYS = 20;

/** `last_used_at` is written at most this often per key, so authentication stays one read. */
export const LAST_USED_EVERY_SECONDS = 60;

type CreatedVia = 'signup' | 'reseller' | 'operator';
type RevokedVia = 'reseller' | 'operator';

export const createApiKeyInput = z.strictObject({
  label: plainName(100).nullable().optional().describe('what the key is for ("CI", "laptop"); shown in the list'),
});

interface KeyRow {
  id: string | number;
  reseller_id: string | number | null;
  key_prefix: string;
  label: string | null;
  created_at: Date;
  created_via: CreatedVia | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_via: RevokedVia | null;
}

/** What a list shows of a key: never the key, only the prefix it starts with. */
function apiKeyView(row: KeyRow, callerKeyId?: number) {
  return {
    id: String(row.id),
    prefix: row.key_prefix,
    label: row.label,
    created_at: row.created_at,
    created_via: row.created_via,
    last_used_at: row.last_used_at,
    revoked_at: row.revoked_at,
    revoked_via: row.revoked_via,
    current: callerKeyId !== undefined && Number(row.id) === callerKeyId,
  };
}

/** Inserts a key and returns it, the only time it is ever readable (only its hash is stored). */
export async function insertApiKey(
  db: Db | Knex.Transaction,
  resellerId: number | null,
  via: CreatedVia,
  label: string | null = null,
): Promise<{ key: string; row: KeyRow }> {
  const key = newSecret(resellerId === null ? 'dpo' : 'dpk');
  const [row] = await db('api_keys')
    .insert({ reseller_id: resellerId, key_hash: hashSecret(key), key_prefix: key.slice(0, 8), label, created_via: via })
    .returning('*');
  return { key, row };
}

/** A key id as the API shows it: digits only; anything else names no key (404, not 400). */
function keyId(id: string): number | undefined {
  return /^[0-9]{1,15}$/.test(id) ? Number(id) : undefined;
}

/** Locks the reseller's row: creates and revokes of one reseller's keys run one at a time. */
async function lockReseller(trx: Knex.Transaction, resellerId: number) {
  await trx('resellers').where({ id: resellerId }).forUpdate().first('id');
}

async function liveKeys(trx: Knex.Transaction, resellerId: number): Promise<number> {
  const [{ n }] = await trx('api_keys').where({ reseller_id: resellerId }).whereNull('revoked_at').count({ n: '*' });
  return Number(n);
}

/**
 * A new key for the reseller, answered once with its secret (`api_key`). Refused with 409
 * `too_many_keys` when the reseller already holds MAX_LIVE_KEYS live keys.
 */
export async function createApiKey(
  deps: { db: Db; log: Logger },
  resellerId: number,
  input: unknown,
  via: 'reseller' | 'operator',
  callerKeyId?: number,
) {
  const { label } = parseInput(createApiKeyInput, input ?? {});
  return deps.db.transaction(async (trx) => {
    await lockReseller(trx, resellerId);
    if ((await liveKeys(trx, resellerId)) >= MAX_LIVE_KEYS)
      throw new Conflict('too_many_keys', `A reseller holds at most ${MAX_LIVE_KEYS} live keys; revoke one first.`);
    const { key, row } = await insertApiKey(trx, resellerId, via, label ?? null);
    await recordEvents(trx, [
      { resellerId, type: 'api_key.created', data: { id: String(row.id), prefix: row.key_prefix, label: row.label, via } },
    ]);
    deps.log.info(
      { event: 'api_key_created', reseller_id: resellerId, key_id: String(row.id), prefix: row.key_prefix, via },
      'API key created',
    );
    return { ...apiKeyView(row, callerKeyId), api_key: key };
  });
}

/** The reseller's keys, live and revoked, oldest first, cursor-paginated. */
export async function listApiKeys(db: Db, resellerId: number, query: unknown = {}, callerKeyId?: number) {
  const q = parseInput(listQuery, query, 'query');
  const after = decodeCursor(q.cursor);
  const rows: KeyRow[] = await db('api_keys')
    .where({ reseller_id: resellerId })
    .modify((b) => (after ? b.where('id', '>', after) : b))
    .orderBy('id')
    .limit(q.limit + 1);
  return pageOf(
    rows,
    q.limit,
    (r) => r.id,
    (r) => apiKeyView(r, callerKeyId),
  );
}

/**
 * Revokes one of the reseller's keys: it stops authenticating at once, its console sessions are
 * deleted, and its open event streams end at their next credential check (SSE_AUTH_RECHECK_MS).
 * Another reseller's key id is 404, like an unknown one. Revoking a revoked key answers it as it
 * is (a retry is harmless). A reseller may revoke the key it calls with, but not its last live
 * key (409 `last_key`: nobody locks themselves out); the operator may (a leaked sole key), and
 * issues the reseller a new one.
 */
export async function revokeApiKey(deps: { db: Db; log: Logger }, resellerId: number, id: string, via: RevokedVia, callerKeyId?: number) {
  const keyIdNum = keyId(id);
  if (keyIdNum === undefined) throw new NotFound('No such API key.');
  return deps.db.transaction(async (trx) => {
    await lockReseller(trx, resellerId);
    const row: KeyRow | undefined = await trx('api_keys').where({ id: keyIdNum, reseller_id: resellerId }).first();
    if (!row) throw new NotFound('No such API key.');
    if (row.revoked_at) return apiKeyView(row, callerKeyId);
    if (via === 'reseller' && (await liveKeys(trx, resellerId)) <= 1)
      throw new Conflict('last_key', 'This is your last live API key: create another one before you revoke it.');
    const [revoked] = await trx('api_keys').where({ id: keyIdNum }).update({ revoked_at: trx.fn.now(), revoked_via: via }).returning('*');
    const sessions = await trx('console_sessions').where({ api_key_id: keyIdNum }).del();
    await recordEvents(trx, [
      { resellerId, type: 'api_key.revoked', data: { id: String(keyIdNum), prefix: row.key_prefix, label: row.label, via } },
    ]);
    deps.log.info(
      {
        event: 'api_key_revoked',
        reseller_id: resellerId,
        key_id: String(keyIdNum),
        prefix: row.key_prefix,
        via,
        sessions_ended: sessions,
      },
      'API key revoked',
    );
    return apiKeyView(revoked, callerKeyId);
  });
}

/** The reseller named in an operator route, or 404 `unknown_reseller`. */
export async function resellerIdByUsername(db: Db, username: string): Promise<number> {
  const row = await db('resellers').where({ username: username.trim().toLowerCase() }).first('id');
  if (!row) throw new NotFound(`No reseller named "${username}".`, 'unknown_reseller');
  return Number(row.id);
}

/**
 * The operator keys accepted: ADMIN_API_KEY and, while it is being rotated out,
 * ADMIN_API_KEY_PREVIOUS. `log` gets a warning line each time the previous key is used, so the
 * operator sees who still has to move to the new one.
 */
export interface OperatorKeys {
  current: string;
  previous?: string;
  log?: Pick<Logger, 'warn' | 'error'>;
}

export function operatorKeys(
  config: Pick<Config, 'ADMIN_API_KEY' | 'ADMIN_API_KEY_PREVIOUS'>,
  log?: Pick<Logger, 'warn' | 'error'>,
): OperatorKeys {
  if (!config.ADMIN_API_KEY) throw new Error('ADMIN_API_KEY is not resolved');
  const previous =
    config.ADMIN_API_KEY_PREVIOUS && config.ADMIN_API_KEY_PREVIOUS !== config.ADMIN_API_KEY ? config.ADMIN_API_KEY_PREVIOUS : undefined;
  return { current: config.ADMIN_API_KEY, previous, log };
}

/** Whether `presented` is an operator key (current or previous); a plain string is the one key. */
export function isOperatorKey(presented: string | undefined, keys: string | OperatorKeys): boolean {
  if (!presented) return false;
  if (typeof keys === 'string') return safeEqual(presented, keys);
  const current = safeEqual(presented, keys.current);
  // Both compared every time: how long the check takes says nothing about which one matched.
  const previous = keys.previous !== undefined && safeEqual(presented, keys.previous);
  if (current) return true;
  if (!previous) return false;
  const info = requestInfo.getStore();
  keys.log?.warn(
    { event: 'previous_operator_key_used', ip: info?.ip, route: info?.route?.() },
    'the previous operator key (ADMIN_API_KEY_PREVIOUS) was used: move this client to ADMIN_API_KEY before unsetting it',
  );
  return true;
}

/**
 * Records that a key was used, at most once a minute per key (the update matches no row in
 * between), without delaying the request: an error is logged, never thrown.
 */
export function touchApiKey(db: Db, keyIdNum: number, log?: Pick<Logger, 'error'>): void {
  db('api_keys')
    .where({ id: keyIdNum })
    .where((b) => b.whereNull('last_used_at').orWhere('last_used_at', '<', db.raw(`now() - interval '${LAST_USED_EVERY_SECONDS} seconds'`)))
    .update({ last_used_at: db.fn.now() })
    .catch((err: unknown) => log?.error({ event: 'api_key_touch_failed', key_id: String(keyIdNum), err }, 'could not record API key use'));
}
