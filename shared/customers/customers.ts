import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import type { Deps } from '../platform/deps';
import { invalidDomainsError, normalizeDomainName } from '../catalog/domain-names';
import { AppError, Conflict, Gone, NotFound, Unprocessable } from '../platform/errors';
import { createBulkJob } from '../bulk/create';
import { FINISHED_JOB, type BulkJob } from '../bulk/model';
import { jobLinks } from '../bulk/views';
import { releaseKind } from './kind';
import type { Reseller } from '../accounts/resellers';
import { hashSecret } from '../platform/secrets';
import { isUniqueViolation, paginate } from '../platform/sql';
import { clip, email, listQuery, parseInput, plainName } from '../platform/validation';

type Conn = Db | Knex.Transaction;

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
export const createPackageInput = z.strictObject({ name: plainName(200) });
export const addPackageDomainInput = z.strictObject({ domain: z.string().max(300), virtual: z.boolean().default(false) });
export const releaseCustomerInput = z.strictObject({ email_results_to: email.optional() });
export const claimInput = z.discriminatedUnion('choice', [
  z.strictObject({ choice: z.literal('new_account') }),
  z.strictObject({ choice: z.literal('import'), email: z.string().trim().min(1).max(320) }),
]);

interface CustomerRow {
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

const ID = /^[0-9]{1,18}$/;

/** Another reseller's customer (or a malformed id) is simply not found: no existence leak. */
async function customerFor(db: Conn, me: Reseller, id: string, forUpdate = false): Promise<CustomerRow> {
  const q = ID.test(id) ? db('customers').where({ id, reseller_id: me.id }).first() : undefined;
  const row: CustomerRow | undefined = q ? await (forUpdate ? q.forUpdate() : q) : undefined;
  if (!row) throw new NotFound('No such customer.');
  return row;
}

async function runningRelease(db: Conn, customerId: number, exceptJob?: string): Promise<BulkJob | undefined> {
  return db('bulk_jobs')
    .where({ kind: releaseKind.name, customer_id: customerId })
    .whereNotIn('status', [...FINISHED_JOB])
    .modify((b) => (exceptJob ? b.whereNot({ id: exceptJob }) : b))
    .first();
}

/** Changes to a customer's products wait until the customer is active and no release is running. */
async function assertChangeable(db: Conn, c: CustomerRow) {
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

// Release

/**
 * Checks everything before any change (already_released, a release already running, contact
 * email present and valid), then queues a bulk job of kind `release` with one item per product:
 * every domain the reseller holds for the customer, then every package. The customer row is locked
 * while the job is written, so two concurrent releases of one customer cannot both start.
 */
export async function releaseCustomer(deps: Deps, me: Reseller, customerId: string, input: z.infer<typeof releaseCustomerInput>) {
  const { db } = deps;
  const check = async (conn: Conn, exceptJob?: string) => {
    const c = await customerFor(conn, me, customerId, !!exceptJob);
    if (c.status === 'released') throw new Conflict('already_released', 'The customer has already been released.');
    const job = await runningRelease(conn, c.id, exceptJob);
    if (job) throw new Conflict('conflict', `A release of this customer is already running (job ${job.id}).`, { job_id: job.id });
    if (!c.email?.trim())
      throw new Unprocessable(
        'invalid_contact',
        'The customer has no contact email; the claim invitation could not be sent. Set one first.',
        { field: 'email' },
      );
    if (!email.safeParse(c.email).success) {
      throw new Unprocessable('invalid_contact', `The customer's contact email "${c.email}" is not valid; correct it first.`, {
        field: 'email',
        value: c.email,
      });
    }
    return c;
  };
  const c = await check(db);
  const domains: string[] = await db('domains').where({ reseller_id: me.id, customer_id: c.id }).orderBy('name').pluck('name');
  const packages: { id: number; name: string }[] = await db('service_packages')
    .where({ customer_id: c.id, reseller_id: me.id })
    .orderBy('id')
    .select('id', 'name');

  const job = await createBulkJob(
    deps,
    releaseKind,
    {
      losingResellerId: me.id,
      gainingResellerId: null,
      customerId: Number(c.id),
      options: {
        customer_name: c.name,
        domains: domains.length,
        packages: packages.length,
        email_results_to: input.email_results_to ?? null,
      },
      itemNames: [...domains, ...packages.map((p) => `package:${p.id}`)],
      itemProducts: [
        ...domains.map(() => ({ product: 'domain' as const, id: null })),
        ...packages.map((p) => ({ product: 'package' as const, id: Number(p.id) })),
      ],
    },
    async (trx, created) => {
      await check(trx, created.id);
    },
  );
  return {
    id: job.id,
    status: job.status,
    total: job.total,
    customer_id: String(c.id),
    domains: domains.length,
    packages: packages.length,
    links: jobLinks(releaseKind, job),
  };
}

// Claim (no API key: the single-use token is the credential)

async function tokenFor(db: Conn, token: string, forUpdate: boolean, now: Date) {
  const q = db('claim_tokens')
    .where({ token_hash: hashSecret(token) })
    .first();
  const row = await (forUpdate ? q.forUpdate() : q);
  if (!row) throw new NotFound('No such claim token.');
  if (row.used_at) throw new Gone('token_used', 'This claim link has already been used.');
  if (new Date(row.expires_at).getTime() <= now.getTime()) throw new Gone('token_expired', 'This claim link has expired.');
  return row;
}

async function claimSummary(db: Conn, customerId: number) {
  const c = await db('customers').where({ id: customerId }).first();
  const domains = Number((await db('domains').where({ customer_id: customerId }).whereNull('reseller_id').count('* as n').first())!.n);
  const packages = Number(
    (await db('service_packages').where({ customer_id: customerId }).whereNotNull('released_at').count('* as n').first())!.n,
  );
  return { customer: { id: String(c.id), name: c.name, email: c.email, status: c.status }, products: { domains, packages } };
}

/** What the link in the invitation shows before the customer chooses; it does not use the token. */
export async function claimInfo(deps: Deps, token: string) {
  const row = await tokenFor(deps.db, token, false, deps.clock());
  return { ...(await claimSummary(deps.db, Number(row.customer_id))), expires_at: row.expires_at, choices: ['new_account', 'import'] };
}

/** How many domain names the claim page lists; it counts them all. */
export const CLAIM_PAGE_DOMAINS = 100;

/**
 * What the claim page shows a person before they choose: who released them, what (every package,
 * the first CLAIM_PAGE_DOMAINS domains by name and how many in all), and until when the link works.
 * Like claimInfo it does not use the token.
 */
export async function claimPageInfo(deps: Deps, token: string) {
  const { db } = deps;
  const row = await tokenFor(db, token, false, deps.clock());
  const c = await db('customers as c')
    .leftJoin('resellers as r', 'r.id', 'c.reseller_id')
    .where('c.id', row.customer_id)
    .first('c.id', 'c.name', 'c.email', 'r.name as reseller');
  const released = () => db('domains').where({ customer_id: c.id }).whereNull('reseller_id');
  const domainCount = Number((await released().count('* as n').first())!.n);
  const domains: string[] = await released().orderBy('name').limit(CLAIM_PAGE_DOMAINS).pluck('name');
  const packages: string[] = await db('service_packages')
    .where({ customer_id: c.id })
    .whereNotNull('released_at')
    .orderBy('id')
    .pluck('name');
  return {
    customer: { name: String(c.name), email: String(c.email ?? '').trim() },
    reseller: c.reseller ? String(c.reseller) : null,
    domains: { count: domainCount, names: domains },
    packages,
    expires_at: new Date(row.expires_at),
  };
}

/**
 * Creates (`new_account`, with the contact email on file) or links (`import`, whose email must
 * match the contact email on file) the customer's own account, and uses up the token. A refused
 * import leaves the token usable.
 */
export async function claim(deps: Deps, token: string, input: z.infer<typeof claimInput>) {
  return deps.db.transaction(async (trx) => {
    const row = await tokenFor(trx, token, true, deps.clock());
    const c = await trx('customers').where({ id: row.customer_id }).first();
    const onFile = String(c.email ?? '')
      .trim()
      .toLowerCase();
    if (input.choice === 'import' && input.email.toLowerCase() !== onFile) {
      throw new Unprocessable(
        'contact_mismatch',
        'To import into an existing account its contact details must match the ones on file; create a new account instead, then start a change of owner.',
      );
    }
    if (await trx('customer_accounts').where({ customer_id: c.id }).first('id')) {
      throw new AppError(410, 'token_used', 'This customer has already claimed their account.');
    }
    const [account] = await trx('customer_accounts')
      .insert({ customer_id: c.id, email: input.choice === 'import' ? input.email.toLowerCase() : onFile, mode: input.choice })
      .returning('*');
    await trx('claim_tokens').where({ id: row.id }).update({ used_at: trx.fn.now() });
    return {
      account: { id: String(account.id), email: account.email, mode: account.mode, created_at: account.created_at },
      ...(await claimSummary(trx, Number(c.id))),
    };
  });
}
