import type { Knex } from 'knex';
import type { Db } from '../platform/db';
import type { Mailer } from './mailer';
import type { Logger } from '../platform/logger';

export interface EmailDraft {
  dedupeKey: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  attachments?: { filename: string; content: string; contentType?: string }[];
  /** The body holds a secret we otherwise keep only hashed: blanked once sent, masked before. */
  containsSecret?: boolean;
}

export const SECRET_REMOVED = '[this email contained a single-use link; its text was removed after sending]';

/** Written in the caller's transaction, next to the state change that causes the email. */
export async function queueEmail(trx: Knex | Knex.Transaction, draft: EmailDraft): Promise<void> {
  await trx('outbound_emails')
    .insert({
      dedupe_key: draft.dedupeKey,
      to: draft.to,
      subject: draft.subject,
      text: draft.text,
      html: draft.html ?? null,
      attachments: JSON.stringify(draft.attachments ?? []),
      contains_secret: draft.containsSecret ?? false,
    })
    .onConflict('dedupe_key')
    .ignore();
}

const LEASE_SECONDS = 120;
const MAX_BACKOFF_SECONDS = 15 * 60;

export interface RelayDeps {
  db: Db;
  mailer: Mailer;
  from: string;
  log: Logger;
}

/**
 * Sends due emails at least once. A row is leased before sending (so parallel relays split the
 * work) and marked sent after; a crash in between re-sends it with the same Message-ID,
 * derived from the dedupe key, so a receiver can drop the repeat.
 */
export async function relayOutbox(deps: RelayDeps, batch = 20): Promise<{ sent: number; failed: number }> {
  const { db, mailer, log } = deps;
  const leased: any[] = (
    await db.raw(
      `update outbound_emails set lease_until = now() + interval '${LEASE_SECONDS} seconds', attempts = attempts + 1
       where id in (
         select id from outbound_emails
         where sent_at is null and next_attempt_at <= now() and (lease_until is null or lease_until < now())
         order by id limit ? for update skip locked)
       returning *`,
      [batch],
    )
  ).rows;
  let sent = 0;
  let failed = 0;
  for (const row of leased) {
    try {
      await mailer.send({
        from: deps.from,
        to: row.to,
        subject: row.subject,
        text: row.text,
        html: row.html,
        messageId: `<${row.dedupe_key.replace(/[^A-Za-z0-9.-]/g, '.')}@domain-push>`,
        attachments: row.attachments,
      });
      await db('outbound_emails')
        .where({ id: row.id })
        .update({
          sent_at: db.fn.now(),
          lease_until: null,
          last_error: null,
          transport: mailer.kind,
          // Sent over SMTP, the secret lives on in the recipient's mailbox only. Captured (no
          // SMTP_URL), this row IS the recipient's copy: it keeps its link so the flow can be tried.
          ...(row.contains_secret && mailer.kind === 'smtp' ? { text: SECRET_REMOVED, html: null } : {}),
        });
      sent++;
    } catch (err) {
      const backoff = Math.min(MAX_BACKOFF_SECONDS, 2 ** Math.min(row.attempts, 10));
      await db.raw(
        `update outbound_emails set lease_until = null, last_error = ?, next_attempt_at = now() + (? * interval '1 second') where id = ?`,
        [(err as Error).message.slice(0, 1000), backoff, row.id],
      );
      log.warn({ email_id: row.id, attempts: row.attempts, err: (err as Error).message }, 'email send failed; will retry');
      failed++;
    }
  }
  return { sent, failed };
}

export async function outboxBacklog(db: Db): Promise<number> {
  const row = await db('outbound_emails').whereNull('sent_at').count<{ count: number }[]>('* as count').first();
  return Number(row?.count ?? 0);
}
