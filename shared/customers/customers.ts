import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import { Conflict, NotFound } from '../platform/errors';
import { FINISHED_JOB, type BulkJob } from '../bulk/model';
import { jobLinks } from '../bulk/views';
import { releaseKind } from './kind';
import type { Reseller } from '../accounts/resellers';
import { paginate } from '../platform/sql';
import { listQuery, parseInput, plainName } from '../platform/validation';

/**
 * Customers of a reseller: contact as entered, the checks every change of their products makes
 * (`customerFor`, `assertChangeable`). Packages are in packages.ts, the start of a release in
 * release-start.ts, claims in claims.ts.
 */

export type Conn = Db | Knex.Transaction;

// Contact details are kept as entered (they often come from older systems); the email is checked
// when it matters, at release, where a missing or malformed one is refused with invalid_contact.
const contactFields = {
  email: z.string().trim().max(320).nullable().optional(),
  phone: z.string().trim().max(50).nullable().optional(),
  address: z.string().trim().max(500).nullable().optional(),
  country: z.string().trim().max(2).nullable().optional(),
};
export const createCustomerInput = z.strictObject({ name: plainName(200), ...contactFields });
export const updateCustomerInput = z.strictObject({ name: plainName(200).optional(), ...contactFields });
export const customerListQuery = listQuery.extend({ status: z.enum(['active', 'released']).optional() });

export interface CustomerRow {
  id: number;
  reseller_id: number;
  name: string;
  email: string | null;
  phone: string | null;
  address: string | null;
  country: string | null;
  status: 'active' | 'released';
  released_at: Date | null;
  created_at: Date;
  domain_count?: number;
  package_count?: number;
}

function customerView(c: CustomerRow) {
  return {
    id: String(c.id),
    name: c.name,
    email: c.email,
    phone: c.phone,
    address: c.address,
    country: c.country,
    status: c.status,
    released_at: c.released_at,
    created_at: c.created_at,
    // Products the reseller still holds for this customer (0 once released).
    domains: Number(c.domain_count ?? 0),
    packages: Number(c.package_count ?? 0),
  };
}

function customersQuery(db: Conn) {
  return db('customers as c').select(
    'c.*',
    db.raw('(select count(*) from domains d where d.customer_id = c.id and d.reseller_id = c.reseller_id) as domain_count'),
    db.raw('(select count(*) from service_packages p where p.customer_id = c.id and p.reseller_id = c.reseller_id) as package_count'),
  );
}

export const ID = /^[0-9]{1,18}$/;

/** Another reseller's customer (or a malformed id) is simply not found: no existence leak. */
export async function customerFor(db: Conn, me: Reseller, id: string, forUpdate = false): Promise<CustomerRow> {
  const q = ID.test(id) ? db('customers').where({ id, reseller_id: me.id }).first() : undefined;
  const row: CustomerRow | undefined = q ? await (forUpdate ? q.forUpdate() : q) : undefined;
  if (!row) throw new NotFound('No such customer.');
  return row;
}

export async function runningRelease(db: Conn, customerId: number, exceptJob?: string): Promise<BulkJob | undefined> {
  return db('bulk_jobs')
    .where({ kind: releaseKind.name, customer_id: customerId })
    .whereNotIn('status', [...FINISHED_JOB])
    .modify((b) => (exceptJob ? b.whereNot({ id: exceptJob }) : b))
    .first();
}

/** Changes to a customer's products wait until the customer is active and no release is running. */
export async function assertChangeable(db: Conn, c: CustomerRow) {
  if (c.status === 'released')
    throw new Conflict('already_released', 'The customer has been released; their products are no longer yours to change.');
  const job = await runningRelease(db, c.id);
  if (job) throw new Conflict('conflict', `A release of this customer is running (job ${job.id}).`, { job_id: job.id });
}

// Customers

export async function createCustomer(db: Db, me: Reseller, input: z.infer<typeof createCustomerInput>) {
  const [row] = await db('customers')
    .insert({
      reseller_id: me.id,
      name: input.name,
      email: input.email ?? null,
      phone: input.phone ?? null,
      address: input.address ?? null,
      country: input.country ?? null,
    })
    .returning('*');
  return customerView(row);
}

export async function listCustomers(db: Db, me: Reseller, query: unknown) {
  const q = parseInput(customerListQuery, query, 'query');
  const rows = customersQuery(db)
    .where('c.reseller_id', me.id)
    .modify((b) => (q.status ? b.where('c.status', q.status) : b));
  return paginate(rows, q, { column: 'c.id', key: (r: CustomerRow) => r.id }, customerView);
}

export async function getCustomer(db: Db, me: Reseller, id: string) {
  const c = await customerFor(db, me, id);
  const row: CustomerRow = await customersQuery(db).where('c.id', c.id).first();
  const last: BulkJob | undefined = await db('bulk_jobs')
    .where({ kind: releaseKind.name, losing_reseller_id: me.id, customer_id: c.id })
    .orderBy('seq', 'desc')
    .first();
  return { ...customerView(row), last_release: last ? { id: last.id, status: last.status, links: jobLinks(releaseKind, last) } : null };
}

/** Fixing contact details before a release (the invitation goes to the email on file). */
export async function updateCustomer(db: Db, me: Reseller, id: string, input: z.infer<typeof updateCustomerInput>) {
  await db.transaction(async (trx) => {
    const c = await customerFor(trx, me, id, true);
    await assertChangeable(trx, c);
    const patch = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    if (Object.keys(patch).length)
      await trx('customers')
        .where({ id: c.id })
        .update({ ...patch, updated_at: trx.fn.now() });
  });
  return getCustomer(db, me, id);
}
