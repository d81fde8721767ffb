import type { Knex } from 'knex';
import type { Deps } from '../platform/deps';
import type { FinishHook } from '../bulk/kind';
import type { ItemHandler } from '../bulk/take';
import { recordResults, type ItemResult } from '../bulk/results';
import type { BulkJob, ItemRow } from '../bulk/model';
import { claimLink } from '../mail/links';
import { queueEmail } from '../mail/outbox';
import { claimInvitation } from './emails';
import { hashSecret, newSecret } from '../platform/secrets';
import { recordEvents } from '../events/events';
import { leaveReseller } from '../catalog/domain-moves';

/**
 * Releases the taken products of one chunk of a customer release, set-based in one transaction
 * with the items' results. A domain leaves the reseller (reseller_id null) but keeps its customer;
 * its registrant profile is detached too, because that profile is the reseller's and may be shared
 * with domains the reseller keeps: editing it must not reach a released domain. A package leaves
 * the reseller with its domains (virtual ones included).
 */
export const releaseHandler: ItemHandler = {
  async inTake(_deps, trx, job, items) {
    return { deferred: [], counts: await applyRelease(trx, job, items) };
  },
};

async function applyRelease(trx: Knex.Transaction, job: BulkJob, live: ItemRow[]): Promise<Record<string, number>> {
  const reseller = Number(job.losing_reseller_id);
  const customer = Number(job.customer_id);
  if (live.length === 0) return {};
  const domainItems = live.filter((i) => i.product !== 'package');
  const packageItems = live.filter((i) => i.product === 'package');

  const domains = domainItems.length
    ? await trx('domains')
        .whereRaw('name = any(?::text[])', [domainItems.map((i) => i.domain_name)])
        .orderBy('id')
        .forUpdate()
        .select('id', 'name', 'reseller_id', 'customer_id')
    : [];
  const packages = packageItems.length
    ? await trx('service_packages')
        .whereIn(
          'id',
          packageItems.map((i) => Number(i.product_id)),
        )
        .orderBy('id')
        .forUpdate()
        .select('id', 'reseller_id', 'customer_id')
    : [];
  const domainByName = new Map(domains.map((d) => [d.name, d]));
  const packageById = new Map(packages.map((p) => [Number(p.id), p]));

  const results: ItemResult[] = [];
  const leavingDomains: number[] = [];
  const releasePackages: number[] = [];
  for (const item of domainItems) {
    const d = domainByName.get(item.domain_name);
    const id = Number(item.id);
    if (!d) results.push({ id, status: 'failed', reason: 'not_found', message: 'The domain is not on the platform.' });
    else if (Number(d.reseller_id) !== reseller)
      results.push({ id, status: 'failed', reason: 'not_owned', message: 'The domain is no longer held by the releasing reseller.' });
    else if (Number(d.customer_id) !== customer)
      results.push({
        id,
        status: 'failed',
        reason: 'wrong_registrant',
        message: 'The registrant of the domain is no longer this customer.',
      });
    else {
      results.push({ id, status: 'released', reason: null, message: null });
      leavingDomains.push(Number(d.id));
    }
  }
  for (const item of packageItems) {
    const p = packageById.get(Number(item.product_id));
    const id = Number(item.id);
    if (!p || Number(p.customer_id) !== customer)
      results.push({ id, status: 'failed', reason: 'not_found', message: 'The service package no longer exists.' });
    else if (Number(p.reseller_id) !== reseller)
      results.push({
        id,
        status: 'failed',
        reason: 'not_owned',
        message: 'The service package is no longer held by the releasing reseller.',
      });
    else {
      results.push({ id, status: 'released', reason: null, message: null });
      releasePackages.push(Number(p.id));
    }
  }

  await leaveReseller(trx, leavingDomains);
  if (releasePackages.length) {
    await trx('service_packages').whereIn('id', releasePackages).update({ reseller_id: null, released_at: trx.fn.now() });
  }
  return recordResults(trx, results, live);
}

/** The claim link: one address, an HTML page in a browser (api/claim-page.ts), JSON for a program. */
function claimUrl(deps: Pick<Deps, 'config'>, token: string): string {
  return claimLink(deps.config, token);
}

/**
 * Runs in the transaction that ends the release job. Only a completed release whose products all
 * left the reseller (released, or already gone: not_found / not_owned / wrong_registrant) releases
 * the customer and writes the claim invitation; a cancelled or failed job, or one with items that
 * failed on an error, leaves the customer active (products already released stay released) and the
 * reseller can release again for what is left. The token exists in clear only in the email.
 */
export const releaseFinished: FinishHook = async (deps, trx, job, summary) => {
  if (summary.status !== 'completed') return;
  const customer = await trx('customers').where({ id: job.customer_id }).forUpdate().first();
  if (!customer || customer.status === 'released') return;
  const errored = await trx('bulk_job_items').where({ job_id: job.id, status: 'failed', reason: 'error' }).first('id');
  if (errored) {
    deps.log.warn({ job_id: job.id, customer: String(customer.id) }, 'release ended with errors; the customer stays active');
    return;
  }
  // A product attached to the customer while the release ran (an import) is still the reseller's:
  // a customer is never released without all their products.
  const leftBehind =
    (await trx('domains').where({ customer_id: customer.id, reseller_id: job.losing_reseller_id }).first('id')) ??
    (await trx('service_packages').where({ customer_id: customer.id, reseller_id: job.losing_reseller_id }).first('id'));
  if (leftBehind) {
    deps.log.warn({ job_id: job.id, customer: String(customer.id) }, 'products were added during the release; the customer stays active');
    return;
  }
  await trx('customers').where({ id: customer.id }).update({ status: 'released', released_at: trx.fn.now(), updated_at: trx.fn.now() });

  const token = newSecret('claim');
  const expiresAt = new Date(deps.clock().getTime() + deps.config.CLAIM_TOKEN_TTL_SECONDS * 1000);
  await trx('claim_tokens').insert({ customer_id: customer.id, job_id: job.id, token_hash: hashSecret(token), expires_at: expiresAt });
  await recordEvents(trx, [
    {
      resellerId: job.losing_reseller_id!,
      type: 'customer.released',
      jobId: job.id,
      data: { customer_id: String(customer.id), job_id: job.id },
    },
  ]);

  const released = await trx('bulk_job_items')
    .where({ job_id: job.id, status: 'released' })
    .orderBy('id')
    .select('domain_name', 'product', 'product_id');
  const packageIds = released.filter((r) => r.product === 'package').map((r) => Number(r.product_id));
  const packageNames = packageIds.length ? await trx('service_packages').whereIn('id', packageIds).orderBy('id').pluck('name') : [];
  const reseller = await trx('resellers').where({ id: job.losing_reseller_id }).first('name');
  await queueEmail(
    trx,
    claimInvitation({
      jobId: job.id,
      to: String(customer.email).trim(),
      customerName: customer.name,
      resellerName: reseller?.name ?? 'Your reseller',
      claimUrl: claimUrl(deps, token),
      expiresAt,
      domains: released.filter((r) => r.product !== 'package').map((r) => r.domain_name),
      packages: packageNames,
    }),
  );
};
