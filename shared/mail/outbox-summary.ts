import type { Db } from '../platform/db';
import { classifySmtpError, type SmtpErrorClass } from './smtp-errors';

interface OutboxSummary {
  unsent: number;
  /** Unsent emails whose last attempt failed (they are retried with backoff). */
  failing: number;
  oldest_unsent_at: string | null;
  oldest_unsent_age_seconds: number | null;
  last_sent_at: string | null;
  /**
   * The most recent send failure still waiting for its retry, as a class (`recipient_rejected`,
   * `connection`, `auth`, `timeout`…, see smtp-errors.ts): never the peer's text, which names
   * recipients, since /readyz is unauthenticated. The signed-in mailbox shows the full text.
   */
  last_error: { email_id: number; attempts: number; error: SmtpErrorClass; next_attempt_at: string } | null;
}

/**
 * What an operator needs to see that email flows: how much waits, since when, and why it fails.
 * Served on /readyz (informational: a slow SMTP server never makes the system unready) and meant
 * for the operator's mailbox page. Reads only unsent rows (a partial index) and the newest sent one.
 */
export async function outboxSummary(db: Db): Promise<OutboxSummary> {
  // One statement, so one snapshot: read separately, a failure recorded between the counts and the
  // last error answered `failing: 0` next to that error.
  const { rows } = await db.raw(`
    with unsent as (
      select id, created_at, attempts, last_error, next_attempt_at from outbound_emails where sent_at is null),
    last_failure as (
      select id, attempts, last_error, next_attempt_at from unsent where last_error is not null
      order by next_attempt_at desc limit 1)
    select (select count(*)::int from unsent) as unsent,
           (select count(*)::int from unsent where last_error is not null) as failing,
           (select min(created_at) from unsent) as oldest,
           extract(epoch from now() - (select min(created_at) from unsent))::float as age,
           (select sent_at from outbound_emails where sent_at is not null order by id desc limit 1) as last_sent_at,
           f.id as failing_id, f.attempts, f.last_error, f.next_attempt_at
    from (select) as one left join last_failure f on true`);
  const r = rows[0];
  const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);
  return {
    unsent: r.unsent,
    failing: r.failing,
    oldest_unsent_at: iso(r.oldest),
    oldest_unsent_age_seconds: r.age === null ? null : Math.round(r.age),
    last_sent_at: iso(r.last_sent_at),
    last_error:
      r.failing_id === null
        ? null
        : {
            email_id: Number(r.failing_id),
            attempts: r.attempts,
            error: classifySmtpError(String(r.last_error)),
            next_attempt_at: iso(r.next_attempt_at)!,
          },
  };
}
