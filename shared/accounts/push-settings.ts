import { z } from 'zod';
import { recordEvents } from '../events/events';
import type { Db } from '../platform/db';
import { InvalidRequest, NotFound } from '../platform/errors';
import { findResellerByHandle, type Reseller } from './resellers';
import { email } from '../platform/validation';

export const allowResellerInput = z.strictObject({ reseller: z.string().trim().min(1).max(100) });
export const notificationEmailInput = z.strictObject({ email: email.nullable() });

/** The gaining side's view: its public company_id, the losing resellers it accepts, where to notify. */
export async function getPushSettings(db: Db, me: Reseller) {
  const allowed = await db('push_authorizations as a')
    .join('resellers as r', 'r.id', 'a.losing_reseller_id')
    .where('a.gaining_reseller_id', me.id)
    .orderBy('r.username')
    .select('r.username', 'r.company_id', 'r.name', 'a.created_at as authorized_at');
  return {
    company_id: me.company_id,
    domain_push_enabled: me.domain_push_enabled,
    allowed_resellers: allowed,
    notification_email: me.push_notification_email,
  };
}

/** Idempotent: authorizing the same losing reseller twice leaves one authorization. */
export async function allowReseller(db: Db, me: Reseller, handle: string) {
  const losing = await findResellerByHandle(db, handle);
  if (!losing) throw new NotFound(`No reseller with username or company_id "${handle}".`, 'unknown_reseller');
  if (losing.id === me.id) throw new InvalidRequest('A reseller cannot authorize itself.');
  await db.transaction(async (trx) => {
    const added = await trx('push_authorizations')
      .insert({ gaining_reseller_id: me.id, losing_reseller_id: losing.id })
      .onConflict(['gaining_reseller_id', 'losing_reseller_id'])
      .ignore()
      .returning('gaining_reseller_id');
    if (added.length) await recordEvents(trx, authorizationEvents(me, losing, true));
  });
  return { username: losing.username, company_id: losing.company_id, name: losing.name };
}

export async function revokeReseller(db: Db, me: Reseller, handle: string): Promise<void> {
  const losing = await findResellerByHandle(db, handle);
  const removed = !losing
    ? 0
    : await db.transaction(async (trx) => {
        const n = await trx('push_authorizations').where({ gaining_reseller_id: me.id, losing_reseller_id: losing.id }).del();
        if (n) await recordEvents(trx, authorizationEvents(me, losing, false));
        return n;
      });
  if (!removed) throw new NotFound(`"${handle}" is not in your allowed resellers.`);
}

export async function setNotificationEmail(db: Db, me: Reseller, value: string | null) {
  await db('resellers').where({ id: me.id }).update({ push_notification_email: value });
  return { notification_email: value };
}

export async function isAuthorized(db: Db, gainingId: number, losingId: number): Promise<boolean> {
  return !!(await db('push_authorizations')
    .where({ gaining_reseller_id: gainingId, losing_reseller_id: losingId })
    .first('gaining_reseller_id'));
}

/** `push_authorization.changed` for both sides: the gaining reseller that changed it and the losing one it names. */
function authorizationEvents(gaining: Reseller, losing: Reseller, authorized: boolean) {
  const data = { gaining_reseller: gaining.username, losing_reseller: losing.username, authorized };
  return [gaining, losing].map((r) => ({ resellerId: r.id, type: 'push_authorization.changed' as const, data }));
}
