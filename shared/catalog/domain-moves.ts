import type { Knex } from 'knex';
import { byKey, unnest } from '../platform/sql';

/**
 * Moves of domains between resellers (a bulk push): the writes to `domains`, set-based (one
 * statement per chunk, never per row). New profiles are in profiles.ts, brand copies in brands.ts.
 */

/** A domain as a move decides on it; `held_by_item` is the item that last took it on the registry path. */
export interface DomainToMove {
  id: number;
  name: string;
  reseller_id: number;
  locked: boolean;
  profile_id: number | null;
  brand_id: number | null;
  held_by_item: number | null;
}

/**
 * The domains behind some names; with `forUpdate`, row-locked in id order (two movers never
 * deadlock on them). Each name is one probe of the name index, then each row one probe by id:
 * `name = any(…)` left the planner free to scan every domain instead (its guess for 1,000 names in
 * 100,000 rows).
 */
export function domainsByName(db: Knex, names: string[], forUpdate: boolean): Promise<DomainToMove[]> {
  const q = db('domains')
    .whereRaw(
      `id = any(array(select d.id from unnest(?::text[]) as n(name)
                      cross join lateral (select id from domains where name = n.name limit 1) d))`,
      [names],
    )
    .orderBy('id')
    .select('id', 'name', 'reseller_id', 'locked', 'profile_id', 'brand_id', 'held_by_item');
  return forUpdate ? q.forUpdate() : q;
}

/** Marks domains as held by an item on the registry path (`held_by_item`), one statement. */
export async function holdDomains(trx: Knex.Transaction, holds: { name: string; item: number }[]): Promise<void> {
  if (holds.length === 0) return;
  const names = holds.map((h) => h.name);
  await trx.raw(
    `update domains d set held_by_item = u.item from unnest(?::text[], ?::bigint[]) as u(name, item)
     where d.name = u.name and ${byKey('d.name', 'text')}`,
    [names, holds.map((h) => h.item), names],
  );
}

/** A part of one statement (a CTE's body and its bindings), composed by the caller with the parts of other owners. */
export interface SqlPart {
  sql: string;
  bindings: Knex.Value[];
}

/**
 * The body of a CTE that moves domains to reseller `to`, set-based, returning the moved ids (`id`):
 * each gets its new profile and brand; its customer stays behind (a customer is the losing
 * reseller's). The profile is either given per domain, or the row of a CTE of the same statement
 * (`fromCte`, rows `(id, source_domain)`: `newProfilesSql` in profiles.ts) that names the domain.
 */
export function moveDomainsSql(
  to: number,
  moves: { id: number; name: string; profileId: number | null; brandId: number | null }[],
  profiles: { fromCte: string } | 'given',
): SqlPart {
  const fromCte = profiles === 'given' ? null : profiles.fromCte;
  // Only the columns this move reads travel (most chunks carry no brand): each array element is
  // serialized by the worker and parsed by Postgres.
  const branded = moves.some((m) => m.brandId !== null);
  const u = unnest('u', {
    id: ['bigint', moves.map((m) => m.id)],
    ...(fromCte
      ? { name: ['text', moves.map((m) => m.name)] as const }
      : { profile_id: ['bigint', moves.map((m) => m.profileId)] as const }),
    ...(branded ? { brand_id: ['bigint', moves.map((m) => m.brandId)] as const } : {}),
  });
  const set = (row: string, profile: string) =>
    `set reseller_id = ?::bigint, profile_id = ${profile}, brand_id = ${branded ? `${row}.brand_id` : 'null'}, customer_id = null, updated_at = now()`;
  const ids = moves.map((m) => m.id);
  if (!fromCte) {
    return {
      sql: `update domains d ${set('u', 'u.profile_id')}
            from ${u.sql} where d.id = u.id and ${byKey('d.id', 'bigint')}
            returning d.id`,
      bindings: [to, ...u.bindings, ids],
    };
  }
  // The new profiles are paired with their domains first, in a CTE of their own: joined in the
  // update itself, the planner's guess for "1,000 ids out of 5,000,000 domains" (one row) made it
  // scan the new profiles once per domain, 1,000,000 comparisons a chunk on a big platform
  // (bench:platform: 0.43 of the empty platform's rate; a chunk's statement 409 ms against 68).
  return {
    sql: `with pairs as materialized (
            select u.id, np.id as profile_id${branded ? ', u.brand_id' : ''}
            from ${u.sql} join ${fromCte} np on np.source_domain = u.name)
          update domains d ${set('pairs', 'pairs.profile_id')}
          from pairs where d.id = pairs.id and ${byKey('d.id', 'bigint')}
          returning d.id`,
    bindings: [...u.bindings, to, ids],
  };
}

/**
 * Domains leave their reseller (a customer release): no reseller, and no registrant profile, since
 * that profile is the reseller's and may be shared with domains it keeps. The customer stays. One
 * statement for a chunk's domains.
 */
export async function leaveReseller(trx: Knex.Transaction, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await trx('domains').whereRaw('id = any(?::bigint[])', [ids]).update({ reseller_id: null, profile_id: null, updated_at: trx.fn.now() });
}
