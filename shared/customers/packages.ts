import { z } from 'zod';
import type { Db } from '../platform/db';
import { invalidDomainsError, normalizeDomainName } from '../catalog/domain-names';
import { Conflict, NotFound, Unprocessable } from '../platform/errors';
import type { Reseller } from '../accounts/resellers';
import { isUniqueViolation, paginate } from '../platform/sql';
import { clip, listQuery, parseInput, plainName } from '../platform/validation';
import { assertChangeable, customerFor, ID, type Conn, type CustomerRow } from './customers';

/**
 * Service packages of a customer and their domains: a domain registered through the platform whose
 * registrant is the customer, or a virtual one (a name registered elsewhere). The `package_domains`
 * rows are written here only; `dropPackageLinksSql` is what a domain leaving its reseller (a push)
 * calls, through `deps.packages` (customers/deps.ts).
 */

export const createPackageInput = z.strictObject({ name: plainName(200) });
export const addPackageDomainInput = z.strictObject({ domain: z.string().max(300), virtual: z.boolean().default(false) });

// Service packages

interface PackageRow {
  id: number;
  customer_id: number;
  name: string;
  created_at: Date;
  released_at: Date | null;
}

interface PackageDomainRow {
  domain_name: string;
  virtual: boolean;
  created_at: Date;
}

function packageDomainView(pd: PackageDomainRow) {
  return { domain: pd.domain_name, virtual: pd.virtual, added_at: pd.created_at };
}

async function packageViews(db: Conn, rows: PackageRow[]) {
  const entries = rows.length
    ? await db('package_domains')
        .whereIn(
          'package_id',
          rows.map((p) => p.id),
        )
        .orderBy('id')
    : [];
  return rows.map((p) => ({
    id: String(p.id),
    customer_id: String(p.customer_id),
    name: p.name,
    created_at: p.created_at,
    domains: entries.filter((e) => Number(e.package_id) === Number(p.id)).map(packageDomainView),
  }));
}

/** The reseller sees a package until it is released with its customer. */
async function packageFor(db: Conn, me: Reseller, c: CustomerRow, pid: string): Promise<PackageRow> {
  const row = ID.test(pid) ? await db('service_packages').where({ id: pid, customer_id: c.id, reseller_id: me.id }).first() : undefined;
  if (!row) throw new NotFound('No such service package.');
  return row;
}

export async function createPackage(db: Db, me: Reseller, customerId: string, input: z.infer<typeof createPackageInput>) {
  return db.transaction(async (trx) => {
    const c = await customerFor(trx, me, customerId, true);
    await assertChangeable(trx, c);
    const [row] = await trx('service_packages').insert({ customer_id: c.id, reseller_id: me.id, name: input.name }).returning('*');
    return (await packageViews(trx, [row]))[0];
  });
}

export async function listPackages(db: Db, me: Reseller, customerId: string, query: unknown) {
  const q = parseInput(listQuery, query, 'query');
  const c = await customerFor(db, me, customerId);
  const rows = db('service_packages').where({ customer_id: c.id, reseller_id: me.id });
  const page = await paginate(rows, q, { column: 'id', key: (r: PackageRow) => r.id }, (r) => r);
  return { items: await packageViews(db, page.items), next_cursor: page.next_cursor };
}

export async function getPackage(db: Db, me: Reseller, customerId: string, pid: string) {
  const c = await customerFor(db, me, customerId);
  return (await packageViews(db, [await packageFor(db, me, c, pid)]))[0];
}

/**
 * A registered domain must be the reseller's and have this customer as registrant
 * (`wrong_registrant` otherwise, without saying whether someone else holds it); a virtual domain
 * is a valid name registered elsewhere. A name is in at most one package at a time (`conflict`).
 */
export async function addPackageDomain(
  db: Db,
  me: Reseller,
  customerId: string,
  pid: string,
  input: z.infer<typeof addPackageDomainInput>,
) {
  const check = normalizeDomainName(input.domain);
  return db.transaction(async (trx) => {
    const c = await customerFor(trx, me, customerId, true);
    await assertChangeable(trx, c);
    const pkg = await packageFor(trx, me, c, pid);
    if (!check.ok) {
      throw invalidDomainsError(`"${clip(input.domain)}" is not a valid domain name: ${check.reason}.`, [
        { position: 1, value: input.domain, reason: check.reason },
      ]);
    }
    const name = check.name;
    const taken = await trx('package_domains').where({ domain_name: name }).first('package_id');
    if (taken) {
      const where = Number(taken.package_id) === Number(pkg.id) ? 'this package' : 'another service package';
      throw new Conflict('conflict', `${name} is already in ${where}; a domain is in at most one package at a time.`);
    }
    const domain = await trx('domains').where({ name }).first('id', 'reseller_id', 'customer_id');
    let domainId: number | null = null;
    if (input.virtual) {
      if (domain) {
        throw new Unprocessable(
          'registered_domain',
          `${name} is registered through the platform; add it without "virtual" (its registrant must be this customer).`,
        );
      }
    } else {
      if (!domain || Number(domain.reseller_id) !== me.id) {
        throw new Unprocessable(
          'wrong_registrant',
          `${name} is not a domain of yours registered to this customer (a domain registered elsewhere is added with "virtual": true).`,
        );
      }
      if (Number(domain.customer_id) !== Number(c.id))
        throw new Unprocessable('wrong_registrant', `The registrant of ${name} is not this customer.`);
      domainId = Number(domain.id);
    }
    try {
      const [row] = await trx('package_domains')
        .insert({ package_id: pkg.id, domain_name: name, domain_id: domainId, virtual: input.virtual })
        .returning('*');
      return packageDomainView(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict('conflict', `${name} is already in a service package.`);
      throw err;
    }
  });
}

export async function removePackageDomain(db: Db, me: Reseller, customerId: string, pid: string, domain: string) {
  const check = normalizeDomainName(domain);
  await db.transaction(async (trx) => {
    const c = await customerFor(trx, me, customerId, true);
    await assertChangeable(trx, c);
    const pkg = await packageFor(trx, me, c, pid);
    const n = check.ok ? await trx('package_domains').where({ package_id: pkg.id, domain_name: check.name }).del() : 0;
    if (!n) throw new NotFound('That domain is not in this service package.');
  });
}

/**
 * A domain that leaves its reseller leaves that reseller's packages: the body of a CTE removing the
 * links of the domains `movedCte` returns (rows `(id)`), set-based, in the statement that moves them.
 */
export function dropPackageLinksSql(movedCte: string): string {
  // `= any(array(…))`, an index condition: `in (select …)` let the planner scan every link.
  return `delete from package_domains where domain_id = any(array(select id from ${movedCte}))`;
}
