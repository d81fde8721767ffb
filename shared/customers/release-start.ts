import { z } from 'zod';
import type { Deps } from '../platform/deps';
import { Conflict, Unprocessable } from '../platform/errors';
import { createBulkJob } from '../bulk/create';
import { jobLinks } from '../bulk/views';
import { releaseKind } from './kind';
import type { Reseller } from '../accounts/resellers';
import { email } from '../platform/validation';
import { customerFor, runningRelease, type Conn } from './customers';

export const releaseCustomerInput = z.strictObject({ email_results_to: email.optional() });

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
