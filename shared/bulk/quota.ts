import type { Knex } from 'knex';
import type { Config } from '../platform/config';
import { TooManyRequests } from '../platform/errors';
import { FINISHED_JOB } from './model';

/** How long a refused submitter is told to wait: about the time a worker needs for a few chunks. */
const QUOTA_RETRY_AFTER_SECONDS = 60;

/**
 * Per-reseller quotas, checked in the transaction that writes a new job (after its row, before its
 * items): at most MAX_OPEN_JOBS_PER_RESELLER unfinished jobs and MAX_OPEN_ITEMS_PER_RESELLER items
 * in them. A per-reseller advisory lock makes two concurrent submits take turns, so together they
 * cannot overshoot.
 */
export async function assertQuota(
  trx: Knex.Transaction,
  config: Pick<Config, 'MAX_OPEN_JOBS_PER_RESELLER' | 'MAX_OPEN_ITEMS_PER_RESELLER'>,
  resellerId: number,
  newJobId: string,
  newItems: number,
): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`quota:${resellerId}`]);
  const open = await trx('bulk_jobs')
    .where({ losing_reseller_id: resellerId })
    .whereNotIn('status', [...FINISHED_JOB])
    .whereNot({ id: newJobId })
    .first(trx.raw('count(*)::int as jobs'), trx.raw('coalesce(sum(total), 0)::bigint as items'));
  const jobs = Number(open?.jobs ?? 0);
  const items = Number(open?.items ?? 0);
  const maxJobs = config.MAX_OPEN_JOBS_PER_RESELLER;
  const maxItems = config.MAX_OPEN_ITEMS_PER_RESELLER;
  if (jobs >= maxJobs)
    throw new TooManyRequests(
      'too_many_jobs',
      `You have ${jobs} unfinished jobs, the most this deployment runs per reseller; submit again when one has ended.`,
      QUOTA_RETRY_AFTER_SECONDS,
      { open_jobs: jobs, max_open_jobs: maxJobs },
    );
  if (items + newItems > maxItems)
    throw new TooManyRequests(
      'too_many_jobs',
      `Your unfinished jobs hold ${items} items; ${newItems} more would pass the ${maxItems} allowed per reseller.`,
      QUOTA_RETRY_AFTER_SECONDS,
      { open_items: items, requested_items: newItems, max_open_items: maxItems },
    );
}
