import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import { Conflict, NotFound, Unauthorized } from '../platform/errors';
import { hashSecret, newCompanyId } from '../platform/secrets';
import { isOperatorKey, insertApiKey, LAST_USED_EVERY_SECONDS, type OperatorKeys, touchApiKey } from './api-keys';
import { decodeCursor, email, listQuery, pageOf, parseInput, plainName, settingsJson, username } from '../platform/validation';

export interface Reseller {
  id: number;
  username: string;
  company_id: string;
  name: string;
  email: string;
  domain_push_enabled: boolean;
  push_notification_email: string | null;
  billing_anchor_day: number;
  default_settings: Record<string, unknown>;
  created_at: Date;
}

type Caller = { kind: 'operator' } | { kind: 'reseller'; reseller: Reseller; apiKeyId: number };

export const createResellerInput = z.strictObject({
  username,
  name: plainName(200),
  email,
  domain_push_enabled: z.boolean().optional(),
  billing_anchor_day: z.number().int().min(1).max(31).optional(),
  default_settings: settingsJson.optional(),
});

export const updateResellerInput = z.strictObject({
  domain_push_enabled: z.boolean().optional(),
  name: plainName(200).optional(),
  email: email.optional(),
  push_notification_email: email.nullable().optional(),
  billing_anchor_day: z.number().int().min(1).max(31).optional(),
  default_settings: settingsJson.optional(),
});

export function resellerView(r: Reseller) {
  return {
    username: r.username,
    company_id: r.company_id,
    name: r.name,
    email: r.email,
    domain_push_enabled: r.domain_push_enabled,
    push_notification_email: r.push_notification_email,
    billing_anchor_day: r.billing_anchor_day,
    default_settings: r.default_settings,
    created_at: r.created_at,
  };
}

/** The reseller's first key, made with the reseller (created_via `signup`); more come from api-keys.ts. */
export async function issueApiKey(db: Db | Knex.Transaction, resellerId: number | null): Promise<string> {
  return (await insertApiKey(db, resellerId, 'signup')).key;
}

/** Creates the reseller (push disabled unless the operator says otherwise) and its first API key, shown once. */
export async function createReseller(db: Db, input: z.infer<typeof createResellerInput>) {
  return db.transaction(async (trx) => {
    const taken = await trx('resellers').where({ username: input.username }).first('id');
    if (taken) throw new Conflict('username_taken', `A reseller named "${input.username}" already exists.`);
    let row: Reseller | undefined;
    for (let attempt = 0; !row; attempt++) {
      const companyId = newCompanyId();
      const clash = await trx('resellers').where({ company_id: companyId }).first('id');
      if (clash && attempt < 5) continue;
      [row] = await trx('resellers')
        .insert({
          username: input.username,
          company_id: companyId,
          name: input.name,
          email: input.email,
          domain_push_enabled: input.domain_push_enabled ?? false,
          billing_anchor_day: input.billing_anchor_day ?? 1,
          default_settings: JSON.stringify(input.default_settings ?? {}),
        })
        .returning('*');
    }
    const apiKey = await issueApiKey(trx, row.id);
    return { ...resellerView(row), api_key: apiKey };
  });
}

export async function updateReseller(db: Db, usernameParam: string, input: z.infer<typeof updateResellerInput>) {
  const patch: Record<string, unknown> = { ...input };
  if (input.default_settings) patch.default_settings = JSON.stringify(input.default_settings);
  const query = db('resellers').where({ username: usernameParam.toLowerCase() });
  const [row] = Object.keys(patch).length ? await query.update(patch).returning('*') : await query.select('*');
  if (!row) throw new NotFound(`No reseller named "${usernameParam}".`, 'unknown_reseller');
  return resellerView(row);
}

export async function getResellerByUsername(db: Db | Knex.Transaction, name: string): Promise<Reseller | undefined> {
  return db('resellers').where({ username: name.trim().toLowerCase() }).first();
}

/**
 * A losing reseller may be named by username or by the public company_id. The two never overlap:
 * a company_id is all digits and a username must contain a letter, so a handle is looked up in
 * exactly one column and cannot resolve to another tenant by accident.
 */
export async function findResellerByHandle(db: Db | Knex.Transaction, handle: string): Promise<Reseller | undefined> {
  const h = handle.trim().toLowerCase();
  return isCompanyIdForm(h) ? db('resellers').where({ company_id: h }).first() : db('resellers').where({ username: h }).first();
}

function isCompanyIdForm(handle: string): boolean {
  return /^[0-9]+$/.test(handle);
}

export async function listResellers(db: Db, query: unknown = {}) {
  const q = parseInput(listQuery, query, 'query');
  const after = decodeCursor(q.cursor);
  const rows: Reseller[] = await db('resellers')
    .modify((b) => (after ? b.where('id', '>', after) : b))
    .orderBy('id')
    .limit(q.limit + 1);
  return pageOf(rows, q.limit, (r) => r.id, resellerView);
}

/**
 * Who a bearer key is: the operator (ADMIN_API_KEY, or ADMIN_API_KEY_PREVIOUS while it is rotated
 * out: see operatorKeys) or a reseller by a live key of its own. A reseller key's use is recorded
 * in `last_used_at` at most once a minute, after the answer is decided (never delays it).
 */
export async function authenticate(db: Db, bearer: string | undefined, operatorKey: string | OperatorKeys): Promise<Caller> {
  if (!bearer) throw new Unauthorized();
  if (isOperatorKey(bearer, operatorKey)) return { kind: 'operator' };
  const row = await db('api_keys as k')
    .join('resellers as r', 'r.id', 'k.reseller_id')
    .where({ 'k.key_hash': hashSecret(bearer) })
    .whereNull('k.revoked_at')
    .first('r.*', 'k.id as api_key_id', 'k.last_used_at as api_key_last_used_at');
  if (!row) throw new Unauthorized('The API key is not valid.');
  const { api_key_id, api_key_last_used_at, ...reseller } = row;
  const apiKeyId = Number(api_key_id);
  if (!api_key_last_used_at || Date.now() - new Date(api_key_last_used_at).getTime() >= LAST_USED_EVERY_SECONDS * 1000)
    touchApiKey(db, apiKeyId, typeof operatorKey === 'string' ? undefined : operatorKey.log);
  return { kind: 'reseller', reseller, apiKeyId };
}
