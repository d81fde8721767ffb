import type { Knex } from 'knex';
import type { Db } from '../platform/db';
import { randomUUID } from 'node:crypto';
import { SendFailure, type Mailer } from './mailer';
import type { Logger } from '../platform/logger';
import { pausePoint } from '../platform/pause-points';
import { delayFor, type RetryPolicy } from '../platform/retry';

/** An attachment as it is sent. */
export interface Attachment {
  filename: string;
  content: string;
  contentType?: string;
  /** base64: a binary attachment (a big job's gzipped results CSV); otherwise text. */
  encoding?: 'base64';
}

/**
 * An attachment the relay makes when it sends the email, by the renderer `render.name` (RelayDeps
 * `renderers`) from `render.args`; its content is then stored in the row, so every later attempt
 * sends the same bytes. For data that no longer changes once the email is queued (an ended job's
 * items): a job's end need not wait for a CSV of every item, built in the transaction that ends it.
 */
export interface AttachmentToRender {
  filename: string;
  contentType?: string;
  encoding?: 'base64';
  render: { name: string; args: Record<string, string | number> };
}

/** Makes an attachment when its email is sent (read-only: its data no longer changes). */
export type AttachmentRenderer = (db: Db, args: Record<string, string | number>) => Promise<Attachment>;

export type StoredAttachment = Attachment | AttachmentToRender;

export const toRender = (a: StoredAttachment): a is AttachmentToRender => 'render' in a && !!a.render;

export interface EmailDraft {
  dedupeKey: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  attachments?: StoredAttachment[];
  /** The body holds a secret we otherwise keep only hashed: blanked once sent, masked before. */
  containsSecret?: boolean;
}

const SECRET_REMOVED = '[this email contained a single-use link; its text was removed after sending]';

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

/** An outbound_emails row as the relay reads it. */
interface OutboxRow {
  id: string | number;
  dedupe_key: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  attachments: StoredAttachment[];
  contains_secret: boolean;
  attempts: number;
  ambiguous_sends: number;
  lease_owner: string | null;
}

/**
 * A failed send waits a pause drawn from [0, 2^attempts s] (full jitter; attempts counts this
 * send), at most 15 min, and is tried for ever: the relays of many workers do not retry in waves.
 */
export const OUTBOX_RETRY: RetryPolicy = {
  attempts: Number.POSITIVE_INFINITY,
  baseMs: 1_000,
  factor: 2,
  capMs: 15 * 60_000,
  jitter: 'full',
};
/** Sends that got no reply after the whole message went out: this many, then the row is given up. */
const MAX_AMBIGUOUS_SENDS = 2;

export interface RelayDeps {
  db: Db;
  mailer: Mailer;
  from: string;
  log: Logger;
  /** Emails sent at once (MAIL_SEND_CONCURRENCY): a hung peer holds one slot, not the relay. */
  concurrency?: number;
  /** How long a send attempt owns its row; default leaseFor(mailer). Must outlast the send deadline. */
  leaseMs?: number;
  // Structural, not Metrics: platform/metrics.ts reads the outbox's backlog, and a cycle would follow.
  metrics?: { emailAmbiguous: { inc(): void } };
  /** Who makes the attachments queued to be made at send time (AttachmentToRender), by name. */
  renderers?: Record<string, AttachmentRenderer>;
}

/**
 * A row is leased for twice its send's hard deadline plus a second, from the moment it is fenced
 * (defaults: 2 × 25 s + 1 s = 51 s): a live sender never loses its lease mid-send, whatever the
 * server does, and a zombie's row is free again soon after.
 */
function leaseFor(mailer: Pick<Mailer, 'sendDeadlineMs'>): number {
  return 2 * mailer.sendDeadlineMs + 1_000;
}

const messageIdOf = (dedupeKey: string) => `<${dedupeKey.replace(/[^A-Za-z0-9.-]/g, '.')}@domain-push>`;

/**
 * Sends due emails, each at most once per accepted send. Every row is leased on its own right
 * before its send (never a batch up front, whose tail would wait behind slow sends until its
 * lease ran out), by a token of this attempt, with a lease computed from clock_timestamp(); the
 * lease is checked and renewed by an owner-scoped update immediately before the send (a relay
 * paused past its lease sends nothing: another one has the row) and mark-sent is owner-scoped.
 * Sends run MAIL_SEND_CONCURRENCY at a time, each within the mailer's hard deadline. A crash
 * between the server's "250" and mark-sent re-sends with the same Message-ID, derived from the
 * dedupe key, so a receiver can drop the repeat; so does a send that got no reply after the end
 * of DATA (ambiguous, counted), at most once more.
 */
export async function relayOutbox(deps: RelayDeps, batch = 20): Promise<{ sent: number; failed: number }> {
  const { db } = deps;
  const due: { id: string }[] = (
    await db.raw(
      `select id from outbound_emails
       where sent_at is null and next_attempt_at <= clock_timestamp() and (lease_until is null or lease_until < clock_timestamp())
       order by id limit ?`,
      [batch],
    )
  ).rows;
  let sent = 0;
  let failed = 0;
  const queue = [...due];
  const lane = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const outcome = await relayOne(deps, next.id);
      if (outcome === 'sent') sent++;
      else if (outcome === 'failed') failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency ?? 4, due.length)) }, lane));
  return { sent, failed };
}

type RelayOutcome = 'sent' | 'failed' | 'skipped' | 'fenced';

/** Leases one due row for a new attempt (token `owner`), or undefined if it is not due or someone holds it. */
export async function leaseEmail(db: Db, id: string | number, owner: string, leaseMs: number): Promise<OutboxRow | undefined> {
  return (
    await db.raw(
      `update outbound_emails set lease_owner = ?, lease_until = clock_timestamp() + (? * interval '1 millisecond'), attempts = attempts + 1
       where id = ? and sent_at is null and next_attempt_at <= clock_timestamp() and (lease_until is null or lease_until < clock_timestamp())
       returning *`,
      [owner, leaseMs, id],
    )
  ).rows[0];
}

async function relayOne(deps: RelayDeps, id: string | number): Promise<RelayOutcome> {
  const owner = randomUUID();
  const row = await leaseEmail(deps.db, id, owner, deps.leaseMs ?? leaseFor(deps.mailer));
  if (!row) return 'skipped';
  pausePoint('before_send');
  return sendLeased(deps, row, owner);
}

/**
 * The send of a leased row: its attachments made if it was queued with some to make, fenced (still
 * ours, lease not run out: renewed for the whole send, the made attachments stored), sent within
 * the mailer's deadline, then marked sent, or failed with a backoff, by its owner only.
 */
export async function sendLeased(deps: RelayDeps, row: OutboxRow, owner: string): Promise<RelayOutcome> {
  const { db, mailer, log } = deps;
  const leaseMs = deps.leaseMs ?? leaseFor(mailer);
  if (leaseMs <= mailer.sendDeadlineMs) throw new Error(`outbox lease (${leaseMs} ms) must outlast a send (${mailer.sendDeadlineMs} ms)`);
  let attachments: Attachment[];
  try {
    attachments = await renderAttachments(deps, row.attachments);
  } catch (err) {
    const message = `could not make an attachment: ${(err as Error).message}`;
    await retryLater(deps, row, owner, message, 0);
    log.error({ email_id: row.id, attempts: row.attempts, err: (err as Error).message }, 'email attachment could not be made; will retry');
    return 'failed';
  }
  // The fence also stores attachments made just now: a later attempt sends the same bytes.
  const rendered = row.attachments.some(toRender);
  const fenced = await db.raw(
    `update outbound_emails set lease_until = clock_timestamp() + (? * interval '1 millisecond')${rendered ? ', attachments = ?::json' : ''}
     where id = ? and lease_owner = ? and sent_at is null and lease_until > clock_timestamp()
     returning id`,
    [leaseMs, ...(rendered ? [JSON.stringify(attachments)] : []), row.id, owner],
  );
  if (!fenced.rows.length) {
    log.warn({ email_id: row.id }, 'email lease ran out before its send; not sent (another relay has it)');
    return 'fenced';
  }
  try {
    await mailer.send({
      from: deps.from,
      to: row.to,
      subject: row.subject,
      text: row.text,
      html: row.html,
      messageId: messageIdOf(row.dedupe_key),
      attachments,
    });
  } catch (err) {
    const ambiguous = err instanceof SendFailure && err.ambiguous;
    const message = (err as Error).message.slice(0, 900);
    if (ambiguous) {
      deps.metrics?.emailAmbiguous.inc();
      if (row.ambiguous_sends + 1 >= MAX_AMBIGUOUS_SENDS) {
        // Twice no answer after the whole message: it most likely arrived; a third copy would be one too many.
        await db.raw(
          `update outbound_emails set sent_at = clock_timestamp(), lease_until = null, lease_owner = null, transport = ?,
             ambiguous_sends = ambiguous_sends + 1, last_error = ?
           where id = ? and lease_owner = ?`,
          [mailer.kind, `no reply after the message was sent, ${MAX_AMBIGUOUS_SENDS} times; not sent again: ${message}`, row.id, owner],
        );
        log.warn({ email_id: row.id, attempts: row.attempts }, 'email got no reply after its data again; not sent again');
        return 'failed';
      }
    }
    await retryLater(
      deps,
      row,
      owner,
      ambiguous ? `no reply after the message was sent (maybe delivered): ${message}` : message,
      ambiguous ? 1 : 0,
    );
    log.warn({ email_id: row.id, attempts: row.attempts, ambiguous, err: (err as Error).message }, 'email send failed; will retry');
    return 'failed';
  }
  const marked = await db('outbound_emails')
    .where({ id: row.id, lease_owner: owner })
    .update({
      sent_at: db.raw('clock_timestamp()'),
      lease_until: null,
      lease_owner: null,
      last_error: null,
      transport: mailer.kind,
      // Sent over SMTP, the secret lives on in the recipient's mailbox only. Captured (no
      // SMTP_URL), this row IS the recipient's copy: it keeps its link so the flow can be tried.
      ...(row.contains_secret && mailer.kind === 'smtp' ? { text: SECRET_REMOVED, html: null } : {}),
    });
  if (!marked) log.warn({ email_id: row.id }, 'email sent, but its lease had passed to another relay before it was marked sent');
  return 'sent';
}

/** Ends this attempt without a send: the row is tried again after a backoff, by any relay. */
async function retryLater(deps: RelayDeps, row: OutboxRow, owner: string, error: string, ambiguousSends: 0 | 1): Promise<void> {
  const backoff = delayFor(OUTBOX_RETRY, row.attempts) / 1000;
  await deps.db.raw(
    `update outbound_emails set lease_until = null, lease_owner = null, last_error = ?, ambiguous_sends = ambiguous_sends + ?,
       next_attempt_at = clock_timestamp() + (? * interval '1 second')
     where id = ? and lease_owner = ?`,
    [error.slice(0, 1000), ambiguousSends, backoff, row.id, owner],
  );
}

/**
 * The row's attachments as they are sent: stored ones as they are, ones queued to be made made now
 * by their renderer. An email is never sent without an attachment it was queued with: a renderer
 * this relay lacks (an older worker during a deploy) or one that fails fails the attempt.
 */
async function renderAttachments(deps: RelayDeps, list: StoredAttachment[]): Promise<Attachment[]> {
  const out: Attachment[] = [];
  for (const a of list) {
    if (!toRender(a)) {
      out.push(a);
      continue;
    }
    const renderer = deps.renderers?.[a.render.name];
    if (!renderer) throw new Error(`no renderer "${a.render.name}" in this relay`);
    out.push(await renderer(deps.db, a.render.args));
  }
  return out;
}

export async function outboxBacklog(db: Db): Promise<number> {
  const row = await db('outbound_emails').whereNull('sent_at').count<{ count: number }[]>('* as count').first();
  return Number(row?.count ?? 0);
}
