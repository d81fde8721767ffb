import type { Db } from '../platform/db';
import { NotFound } from '../platform/errors';
import { decodeCursor, isDbId, listQuery, pageOf, parseInput } from '../platform/validation';

/** The operator's view of outgoing mail; with SMTP_URL unset this is where emails can be read. */
export async function listEmails(db: Db, query: unknown) {
  const q = parseInput(listQuery, query, 'query');
  const before = decodeCursor(q.cursor);
  const rows: any[] = await db('outbound_emails')
    .modify((b) => (before ? b.where('id', '<', before) : b))
    .orderBy('id', 'desc')
    .limit(q.limit + 1)
    .select('id', 'to', 'subject', 'attempts', 'last_error', 'sent_at', 'transport', 'created_at', 'dedupe_key');
  return pageOf(
    rows,
    q.limit,
    (r) => r.id,
    (r) => ({ ...r, id: String(r.id) }),
  );
}

/** Claim links are credentials: even the operator sees them masked. */
const mask = (text: string | null) => text?.replace(/\/v1\/claims\/[A-Za-z0-9_-]+/g, '/v1/claims/[redacted]') ?? null;

export async function getEmail(db: Db, id: string) {
  const row = isDbId(id) ? await db('outbound_emails').where({ id }).first() : undefined;
  if (!row) throw new NotFound('No such email.');
  return { ...row, id: String(row.id), ...(row.contains_secret ? { text: mask(row.text), html: mask(row.html) } : {}) };
}
