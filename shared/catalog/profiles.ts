import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import { Conflict, InvalidRequest } from '../platform/errors';
import { normalizeDomainName } from './domain-names';
import type { Reseller } from '../accounts/resellers';
import { hashPassword, verifyPassword } from '../platform/secrets';
import { listQuery, parseInput } from '../platform/validation';
import { paginate } from '../platform/sql';
import type { SqlPart } from './domain-moves';

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

interface ProfileRow {
  id: number;
  reseller_id: number;
  domain: string;
  username: string;
  password_hash: string | null;
  contact: Record<string, unknown>;
  created_at: Date;
}

function profileView(p: ProfileRow) {
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
 *
 * In two steps: the awaited call reads the row and starts the password's hash (scrypt, ~26 ms on
 * libuv's pool); `verified` settles with the answer. Between the two the caller's thread is free
 * for its own work (a submit reads its list of names meanwhile). Wrapped in an object, so awaiting
 * the first step does not wait for the second.
 */
export async function checkProfileCredentials(
  db: Db,
  resellerId: number,
  cred: { domain: string; username: string; password: string },
): Promise<{ verified: Promise<ProfileRow | undefined> }> {
  const domain = normalizeDomainName(cred.domain);
  const row: ProfileRow | undefined = await db('profiles').where({ reseller_id: resellerId, username: cred.username.trim() }).first();
  // Always run the hash so timing does not reveal whether the username exists.
  const ok = verifyPassword(
    cred.password,
    row?.password_hash ?? 'scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  );
  return { verified: ok.then((good) => (row && good && domain.ok && row.domain === domain.name ? row : undefined)) };
}

/**
 * New profiles of reseller `to` for domains that move to it (a push with `profile: { mode: 'new' }`),
 * each carrying the registrant contact and credentials of the domain's current profile.
 *
 * Usernames are unique per reseller. The username is the old one when it is free at `to` and no
 * other domain of the call brings the same one; otherwise `<username>-<domain>`
 * (`registrant-<domain>` without a profile); when that is taken too, `<username>-<domain>-<jobSeq>`.
 * The first variant already steps aside from usernames the reseller holds, so it settles nearly
 * every chunk; the others only catch races and rare collisions. The source profile and the taken
 * username are each one index probe per domain (lateral, so the planner cannot hash a scan of every
 * profile instead: the gaining side's profiles grow with every chunk, and a big reseller has millions).
 */
function profileVariants(to: number, jobSeq: number) {
  return [
    {
      taken: `left join lateral (select true as taken from profiles t
                                 where t.reseller_id = ${Number(to)} and t.username = s.username limit 1) t on true`,
      username: `case when s.n = 1 and s.username is not null and t.taken is null
                      then s.username else coalesce(s.username, 'registrant') || '-' || s.name end`,
    },
    { taken: '', username: `coalesce(s.username, 'registrant') || '-' || s.name` },
    { taken: '', username: `coalesce(s.username, 'registrant') || '-' || s.name || '-' || ${Number(jobSeq)}` },
  ];
}

function newProfilesFor(
  variant: ReturnType<typeof profileVariants>[number],
  to: number,
  jobSeq: number,
  ids: number[],
  onConflict: boolean,
) {
  return {
    sql: `with src as (
            select d.name, p.username, p.password_hash, p.contact, count(*) over (partition by p.username) as n
            from domains d
            left join lateral (select username, password_hash, contact from profiles where id = d.profile_id limit 1) p on true
            where d.id = any(?::bigint[]))
          insert into profiles (reseller_id, domain, username, password_hash, contact, source_domain, created_by_job_seq)
          select ?::bigint, s.name, ${variant.username}, s.password_hash, coalesce(s.contact, '{}'::jsonb), s.name, ?::int
          from src s ${variant.taken}
          ${onConflict ? 'on conflict (reseller_id, username) do nothing' : ''}
          returning id, source_domain`,
    bindings: [ids, to, jobSeq] as Knex.Value[],
  };
}

/**
 * The body of a CTE creating those profiles with the first naming variant, as a plain insert
 * (rows `(id, source_domain)`), for a statement that also moves the domains. A taken username (a
 * race with another chunk, a rare collision) fails the whole statement with a unique violation:
 * the caller runs it in a savepoint and falls back to `createProfilesForDomains`.
 */
export function newProfilesSql(to: number, jobSeq: number, domainIds: number[]): SqlPart {
  return newProfilesFor(profileVariants(to, jobSeq)[0], to, jobSeq, domainIds, false);
}

/**
 * The same profiles, one statement per naming variant, each on conflict trying the next: what a
 * chunk whose one-statement attempt met a taken username does. Returns the new profile's id by
 * domain name.
 */
export async function createProfilesForDomains(
  trx: Knex.Transaction,
  to: number,
  jobSeq: number,
  domains: { id: number; name: string }[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let remaining = domains.map((d) => Number(d.id));
  for (const variant of profileVariants(to, jobSeq)) {
    if (remaining.length === 0) break;
    const q = newProfilesFor(variant, to, jobSeq, remaining, true);
    const { rows } = await trx.raw(q.sql, q.bindings);
    for (const r of rows as { id: number; source_domain: string }[]) out.set(r.source_domain, Number(r.id));
    remaining = domains.filter((d) => !out.has(d.name)).map((d) => Number(d.id));
  }
  if (remaining.length) throw new Error(`could not create profiles for ${remaining.length} domain(s)`);
  return out;
}
