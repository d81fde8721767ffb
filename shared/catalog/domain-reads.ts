import { z } from 'zod';
import type { Db } from '../platform/db';
import { NotFound } from '../platform/errors';
import { normalizeDomainName } from './domain-names';
import type { Reseller } from '../accounts/resellers';
import { decodeCursor, listQuery, pageOf, parseInput } from '../platform/validation';

/**
 * What a reseller reads of its domains: `GET /v1/domains` (a page and the total) and
 * `GET /v1/domains/:name`. Reads stay apart from the writes in domains.ts: they run beside a push
 * that is moving the same rows, and must answer fast whatever the platform's size.
 */

export const domainListQuery = listQuery.extend({
  locked: z.enum(['true', 'false']).optional(),
  q: z.string().trim().max(253).optional(),
});

/** A row of domainsQuery: the domain with its brand, profile and owner's defaults joined in. */
interface DomainRow {
  id: number;
  name: string;
  locked: boolean;
  status: string;
  expires_at: Date | null;
  brand_id: string | number | null;
  brand_name: string | null;
  brand_editable: boolean | null;
  brand_settings: unknown;
  profile_id: string | number | null;
  profile_username: string | null;
  customer_id?: string | number | null;
  reseller_defaults: unknown;
  settings: unknown;
}

/** The layout end users see: the domain's brand, or the owning reseller's defaults when unbranded. */
function domainView(r: DomainRow) {
  return {
    name: r.name,
    locked: r.locked,
    status: r.status,
    expires_at: r.expires_at,
    brand: r.brand_id ? { id: String(r.brand_id), name: r.brand_name, editable: r.brand_editable } : null,
    profile: r.profile_id ? { id: String(r.profile_id), username: r.profile_username } : null,
    ...(r.customer_id !== undefined ? { customer_id: r.customer_id === null ? null : String(r.customer_id) } : {}),
    layout: r.brand_id ? r.brand_settings : r.reseller_defaults,
    settings: r.settings,
  };
}

/**
 * A list row references its brand by id and leaves the layout out: a page of 1,000 domains must not
 * repeat a brand's settings 1,000 times. GET /v1/domains/:name has the layout.
 */
function domainListView(r: DomainRow) {
  const { layout: _layout, ...rest } = domainView(r);
  return rest;
}

function domainsQuery(db: Db, withLayout = true) {
  return db('domains as d')
    .join('resellers as r', 'r.id', 'd.reseller_id')
    .leftJoin('brands as b', 'b.id', 'd.brand_id')
    .leftJoin('profiles as p', 'p.id', 'd.profile_id')
    .select(
      'd.*',
      'b.name as brand_name',
      'b.editable as brand_editable',
      ...(withLayout ? ['b.settings as brand_settings', 'r.default_settings as reseller_defaults'] : []),
      'p.username as profile_username',
    );
}

/**
 * A page of the caller's domains by id, and `total`: every domain matching the filter (all pages),
 * for "select all N matching"; the two run at once, on two connections.
 *
 * The page's ids come first, from the `(reseller_id, id)` index alone, then their rows are joined.
 * The owner is matched as `reseller_id = any(array)` and ordered by `(reseller_id, id)`: with a
 * plain `reseller_id = ?` the order is just `id`, and the planner may walk the primary key in id
 * order, hoping to meet the reseller's domains early; on a platform of a million domains a reseller
 * whose domains came last (or a `locked` filter) took 2.6–2.9 s for one page.
 */
export async function listDomains(db: Db, me: Reseller, query: unknown) {
  const q = parseInput(domainListQuery, query, 'query');
  const after = decodeCursor(q.cursor);
  const filter = (b: ReturnType<Db>) => {
    b.whereRaw('d.reseller_id = any(?::bigint[])', [[me.id]]);
    if (q.locked) b.where('d.locked', q.locked === 'true');
    if (q.q) b.where('d.name', 'like', `%${q.q.toLowerCase().replace(/[%_\\]/g, '\\$&')}%`);
  };
  const ids = db('domains as d')
    .modify(filter)
    .modify((b) => (after ? b.where('d.id', '>', after) : b))
    .orderBy([{ column: 'd.reseller_id' }, { column: 'd.id' }])
    .limit(q.limit + 1)
    .select('d.id');
  const [rows, counted] = await Promise.all([
    domainsQuery(db, false).whereIn('d.id', ids).orderBy('d.id') as Promise<DomainRow[]>,
    db('domains as d').modify(filter).count('* as n').first(),
  ]);
  return { ...pageOf(rows, q.limit, (r) => r.id, domainListView), total: Number(counted?.n ?? 0) };
}

export async function getDomain(db: Db, me: Reseller, name: string) {
  const check = normalizeDomainName(name);
  const row = check.ok ? await domainsQuery(db).where({ 'd.name': check.name, 'd.reseller_id': me.id }).first() : undefined;
  if (!row) throw new NotFound('No such domain in your account.');
  return domainView(row);
}
