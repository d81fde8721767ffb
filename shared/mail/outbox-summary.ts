import type { Db } from '../platform/db';

export interface OutboxSummary {
  unsent: number;
  /** Unsent emails whose last attempt failed (they are retried with backoff). */
  failing: number;
  oldest_unsent_at: string | null;
  oldest_unsent_age_seconds: number | null;
  last_sent_at: string | null;
  /** The most recent send failure still waiting for its retry. No recipient or subject: /readyz is unauthenticated. */
  last_error: { email_id: number; attempts: number; error: string; next_attempt_at: string } | null;
}

/**
 * What an operator needs to see that email flows: how much waits, since when, and why it fails.
 * Served on /readyz (informational: a slow SMTP server never makes the system unready) and meant
 * for the operator's mailbox page. Reads only unsent rows (a partial index) and the newest sent one.
 */
export async function outboxSummary(db: Db): Promise<OutboxSummary> {
  const { rows } = await db.raw(`
    select count(*)::int as unsent,
           (count(*) filter (where last_error is not null))::int as failing,
           min(created_at) as oldest,
           extract(epoch from now() - min(created_at))::float as age
    from outbound_emails where sent_at is null`);
  const lastSent = await db('outbound_emails').whereNotNull('sent_at').orderBy('id', 'desc').first('sent_at');
  const failing = await db('outbound_emails')
    .whereNull('sent_at')
    .whereNotNull('last_error')
    .orderBy('next_attempt_at', 'desc')
    .first('id', 'attempts', 'last_error', 'next_attempt_at');
  const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);
  return {
    unsent: rows[0].unsent,
    failing: rows[0].failing,
    oldest_unsent_at: iso(rows[0].oldest),
    oldest_unsent_age_seconds: rows[0].age === null ? null : Math.round(rows[0].age),
    last_sent_at: iso(lastSent?.sent_at),
    last_error: failing
      ? {
          email_id: Number(failing.id),
          attempts: failing.attempts,
          error: String(failing.last_error).slice(0, 300),
          next_attempt_at: iso(failing.next_attempt_at)!,
        }
      : null,
  };
}
