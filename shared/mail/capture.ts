import type { Db } from '../platform/db';
import { NotFound } from '../platform/errors';
import { isDbId, listQuery, parseInput } from '../platform/validation';
import { paginate } from '../platform/sql';
import { toRender, type Attachment, type StoredAttachment } from './outbox';

/** A row of the operator's email list. */
interface EmailListRow {
  id: number;
  to: string;
  subject: string;
  attempts: number;
  last_error: string | null;
  sent_at: Date | null;
  transport: string | null;
  created_at: Date;
  dedupe_key: string;
  attachment_count: number | string;
  has_html: boolean;
}

/** The operator's view of outgoing mail; with SMTP_URL unset this is where emails can be read. */
export async function listEmails(db: Db, query: unknown) {
  const q = parseInput(listQuery, query, 'query');
  const rows = db('outbound_emails').select(
    'id',
    'to',
    'subject',
    'attempts',
    'last_error',
    'sent_at',
    'transport',
    'created_at',
    'dedupe_key',
    db.raw('json_array_length(attachments) as attachment_count'),
    db.raw('html is not null as has_html'),
  );
  return paginate(rows, q, { column: 'id', key: (r: EmailListRow) => r.id, order: 'desc' }, (r) => ({
    ...r,
    id: String(r.id),
    attachment_count: Number(r.attachment_count),
  }));
}

/** An outbound_emails row as the operator's views read it (the relay's columns besides). */
interface EmailRow {
  id: number | string;
  dedupe_key: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  attachments: StoredAttachment[] | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date;
  sent_at: Date | null;
  transport: string | null;
  contains_secret: boolean;
  created_at: Date;
}

/** Claim links are credentials: the operator sees them masked, except in a captured copy. */
const mask = (text: string | null) => text?.replace(/\/v1\/claims\/[A-Za-z0-9_-]+/g, '/v1/claims/[redacted]') ?? null;

/**
 * One email. A message the capture took (no SMTP_URL) is the recipient's copy, shown whole, link
 * included: that is how a claim can be tried without a mail server. Otherwise a secret is masked
 * (and, once sent over SMTP, the relay has already removed it).
 */
export async function getEmail(db: Db, id: string) {
  const row: EmailRow | undefined = isDbId(id) ? await db('outbound_emails').where({ id }).first() : undefined;
  if (!row) throw new NotFound('No such email.');
  const masked = row.contains_secret && row.transport !== 'capture';
  return {
    ...row,
    id: String(row.id),
    attachments: (row.attachments ?? []).map(shownAttachment),
    ...(masked ? { text: mask(row.text), html: mask(row.html) } : {}),
  };
}

/** An attachment as the operator sees it: one still to be made when the email is sent says so, with no content yet. */
type ShownAttachment = Attachment & { pending?: true };

function shownAttachment(a: StoredAttachment): ShownAttachment {
  if (!toRender(a)) return a;
  return { filename: a.filename, contentType: a.contentType, ...(a.encoding ? { encoding: a.encoding } : {}), content: '', pending: true };
}

/** The n-th (0-based) attachment of an email, as stored in the outbox. */
export async function getAttachment(db: Db, id: string, n: string): Promise<Attachment> {
  const email = await getEmail(db, id);
  const list: ShownAttachment[] = email.attachments;
  const found = /^[0-9]{1,4}$/.test(n) ? list[Number(n)] : undefined;
  if (!found) throw new NotFound('No such attachment.');
  if (found.pending) throw new NotFound('This attachment is made when the email is sent; the email has not been sent yet.');
  return found;
}
