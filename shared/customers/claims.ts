import { z } from 'zod';
import type { Deps } from '../platform/deps';
import { AppError, Gone, NotFound, Unprocessable } from '../platform/errors';
import { hashSecret } from '../platform/secrets';
import type { Conn } from './customers';

/** Claims: the released customer takes over their account with the single-use token (no API key). */

export const claimInput = z.discriminatedUnion('choice', [
  z.strictObject({ choice: z.literal('new_account') }),
  z.strictObject({ choice: z.literal('import'), email: z.string().trim().min(1).max(320) }),
]);

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
const CLAIM_PAGE_DOMAINS = 100;

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
