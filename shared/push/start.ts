import type { Knex } from 'knex';
import { isAuthorized } from '../accounts/push-settings';
import type { StartCheck } from '../bulk/kind';
import { nextCycleStart } from './billing';

/**
 * A push that waited (grace window or schedule) is checked again when it starts: the feature may
 * have been switched off for either reseller, or the gaining one may have revoked the
 * authorization, since the submit. Ownership and locks are checked per domain by the handler as
 * always; what this finds ends every item with its reason.
 */
export const checkPushAtStart: StartCheck = async (deps, job) => {
  const rows = await deps
    .db('resellers')
    .whereIn('id', [job.losing_reseller_id, job.gaining_reseller_id!])
    .select('id', 'username', 'domain_push_enabled');
  const losing = rows.find((r) => Number(r.id) === Number(job.losing_reseller_id));
  const gaining = rows.find((r) => Number(r.id) === Number(job.gaining_reseller_id));
  if (!losing?.domain_push_enabled) return { reason: 'feature_disabled', message: 'domain push is no longer enabled for your account.' };
  if (!gaining?.domain_push_enabled) {
    return {
      reason: 'feature_disabled',
      message: `domain push is no longer enabled for the gaining reseller "${gaining?.username ?? '?'}".`,
    };
  }
  if (!(await isAuthorized(deps.db, Number(gaining.id), Number(losing.id)))) {
    return { reason: 'not_authorized', message: `"${gaining.username}" no longer authorizes pushes from you.` };
  }
  return null;
};

/**
 * The gaining reseller's next billing-cycle start (monthly, on its anchor day, UTC; the same rule as
 * billing's effective_from): what `start_at: "next_cycle"` means.
 */
export async function gainingNextCycle(db: Knex, gainingResellerId: number, now: Date): Promise<Date> {
  const g = await db('resellers').where({ id: gainingResellerId }).first('billing_anchor_day');
  return nextCycleStart(now, g?.billing_anchor_day ?? 1);
}

/**
 * The moment a push is billed from. A job scheduled for the gaining reseller's cycle start and run
 * within that cycle is billed as if pushed at the boundary, i.e. from the boundary itself: the
 * seed's "billed from the next full cycle" is that cycle, not the one a month later (which is what
 * "strictly after the moment of the push" would give for a push a few seconds past the boundary).
 */
export function billingMoment(
  job: { start_at: Date | null; options: { start_at_requested?: string | null } },
  now: Date,
  anchorDay: number,
): Date {
  if (job.options.start_at_requested !== 'next_cycle' || !job.start_at) return now;
  const boundary = new Date(job.start_at);
  const inThatCycle = now.getTime() >= boundary.getTime() && now.getTime() < nextCycleStart(boundary, anchorDay).getTime();
  return inThatCycle ? new Date(boundary.getTime() - 1) : now;
}
