import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import { Conflict, InvalidRequest } from '../platform/errors';
import { normalizeDomainName } from './domain-names';
import type { Reseller } from '../accounts/resellers';
import { hashPassword, verifyPassword } from '../platform/secrets';
import { listQuery, parseInput } from '../platform/validation';
import { paginate } from '../platform/sql';

export const contactSchema = z
  .object({
    first_name: z.string().max(200).optional(),
    last_name: z.string().max(200).optional(),
    org_name: z.string().max(200).optional(),
    email: z.string().max(320).optional(),
    phone: z.string().max(50).optional(),
    address: z.string().max(500).optional(),
    country: z.string().max(2).optional(),
  })
  .strict();

export const createProfileInput = z.strictObject({
  domain: z.string().trim().min(1).max(253),
  username: z.string().trim().min(1).max(100),
  password: z.string().min(8).max(200),
  contact: contactSchema.optional(),
});

export interface ProfileRow {
  id: number;
  reseller_id: number;
  domain: string;
  username: string;
  password_hash: string | null;
  contact: Record<string, unknown>;
  created_at: Date;
}

export function profileView(p: ProfileRow) {
  return { id: String(p.id), domain: p.domain, username: p.username, contact: p.contact, created_at: p.created_at };
}

export async function createProfile(db: Db | Knex.Transaction, resellerId: number, input: z.infer<typeof createProfileInput>) {
  const domain = normalizeDomainName(input.domain);
  if (!domain.ok)
    throw new InvalidRequest(`profile domain: ${domain.reason}`, { fields: [{ path: 'body.domain', message: domain.reason }] });
  const exists = await db('profiles').where({ reseller_id: resellerId, username: input.username }).first('id');
  if (exists) throw new Conflict('conflict', `A profile with username "${input.username}" already exists.`);
  const [row] = await db('profiles')
    .insert({
      reseller_id: resellerId,
      domain: domain.name,
      username: input.username,
      password_hash: await hashPassword(input.password),
      contact: JSON.stringify(input.contact ?? {}),
    })
    .returning('*');
  return profileView(row);
}

export async function listProfiles(db: Db, me: Reseller, query: unknown) {
  const q = parseInput(listQuery, query, 'query');
  return paginate(db('profiles').where({ reseller_id: me.id }), q, { column: 'id', key: (r: ProfileRow) => r.id }, profileView);
}

/**
 * Identifies a profile of the gaining reseller by (domain, username, password). The caller learns
 * only that the three together do not match, never which one was wrong.
 */
export async function findProfileByCredentials(
  db: Db,
  resellerId: number,
  cred: { domain: string; username: string; password: string },
): Promise<ProfileRow | undefined> {
  const domain = normalizeDomainName(cred.domain);
  const row: ProfileRow | undefined = await db('profiles').where({ reseller_id: resellerId, username: cred.username.trim() }).first();
  // Always run the hash so timing does not reveal whether the username exists.
  const ok = await verifyPassword(
    cred.password,
    row?.password_hash ?? 'scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  );
  if (!row || !ok || !domain.ok || row.domain !== domain.name) return undefined;
  return row;
}
