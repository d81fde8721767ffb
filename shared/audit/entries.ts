import type { Knex } from 'knex';
import { z } from 'zod';
import { csvLine } from '../platform/csv';
import type { Db } from '../platform/db';
import { InvalidRequest } from '../platform/errors';
import { hashSecret } from '../platform/secrets';
import { paginate } from '../platform/sql';
import { listQuery, parseInput } from '../platform/validation';

/**
 * Who changed something: an API key (by its public prefix), a console session (the prefix of its
 * key and of the session's hash), the operator (a fingerprint of the operator key used), or a
 * customer following a claim link (the link itself is a secret: no id). Never a secret.
 */
type ActorKind = 'api_key' | 'session' | 'operator' | 'claim_link';
const ACTOR_KINDS: readonly ActorKind[] = ['api_key', 'session', 'operator', 'claim_link'];

export interface AuditActor {
  kind: ActorKind;
  /** A key's prefix (`dpk_1a2b`), or `key prefix/session hash prefix` for a session. */
  id?: string | null;
}

export interface AuditEntryInput {
  /** The account the entry belongs to (its reseller reads it); null: the operator's only. */
  resellerId?: number | null;
  /** Or the account by username (an operator route naming it), resolved in the insert. */
  resellerUsername?: string;
  actor: AuditActor;
  /** The client address as the app derives it (Express' req.ip: trust-proxy aware). */
  address?: string | null;
  /** `resource.verb`: `customer.update`, `bulk_job.cancel`, `dashboard.queue.clean`. */
  action: string;
  targetType: string;
  targetId?: string | null;
  /** What changed: field names and safe values only (run through `safeSummary`). */
  summary?: Record<string, unknown>;
  /** The route pattern asked (`PATCH /v1/customers/:id`) and the status answered. */
  route?: string;
  status?: number;
}

/** Keys whose values are never recorded, wherever they sit in a summary. */
const SECRET_KEY = /pass(word)?|secret|token|api_?key|^key$|authori[sz]ation|credential|cookie|signature/i;
const MAX_STRING = 200;
const MAX_ARRAY = 20;
const MAX_DEPTH = 4;

/**
 * A summary safe to keep for years: values under secret-looking keys are dropped (the key stays,
 * as `"[redacted]"`, so the entry still says the field changed), strings are clipped, arrays keep
 * their first entries and their length, nesting is bounded.
 */
export function safeSummary(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) {
    const head = value.slice(0, MAX_ARRAY).map((v) => safeSummary(v, depth + 1));
    return value.length > MAX_ARRAY ? [...head, `… ${value.length - MAX_ARRAY} more (${value.length} in all)`] : head;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = SECRET_KEY.test(k) ? '[redacted]' : safeSummary(v, depth + 1);
    return out;
  }
  return String(value);
}

/**
 * How the operator is named in an entry: a fingerprint of the key used (`op_` and 8 hex of its
 * SHA-256), never its first characters (ADMIN_API_KEY may be as short as 16). It tells the current
 * key from the previous one during a rotation, and is safe to show a reseller.
 */
export const operatorActorId = (key: string | undefined): string | null => (key ? `op_${hashSecret(key).slice(0, 8)}` : null);

/** Appends one entry. There is no function to change or remove one: the table refuses both (docs/audit.md). */
export async function appendAuditEntry(db: Db | Knex.Transaction, e: AuditEntryInput): Promise<void> {
  const resellerId =
    e.resellerId ??
    (e.resellerUsername ? db.raw('(select id from resellers where username = ?)', [e.resellerUsername.trim().toLowerCase()]) : null);
  await db('audit_entries').insert({
    reseller_id: resellerId,
    actor_kind: e.actor.kind,
    actor_id: e.actor.id ?? null,
    address: e.address ?? null,
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId ?? null,
    summary: JSON.stringify(safeSummary(e.summary ?? {})),
    route: e.route ?? null,
    status: e.status ?? null,
  });
}

/**
 * Removes entries older than `keepDays` through the database's one purge function (the trigger
 * refuses any other DELETE); returns how many went.
 */
export async function purgeAuditEntries(db: Db, keepDays: number): Promise<number> {
  const { rows } = await db.raw('select audit_purge(?::integer) as n', [keepDays]);
  return Number(rows[0].n);
}

const when = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

/** The filters of an audit list: `action` (exact, or a prefix ending in `.`), `actor`, `from`/`to` times. */
export const auditQuery = listQuery.extend({
  action: z
    .string()
    .trim()
    .regex(/^[a-z0-9_.]{1,100}$/, 'an action name such as customer.update, or a prefix such as customer.')
    .optional()
    .describe('exact action (`customer.update`), or every action under a prefix ending in `.` (`customer.`)'),
  actor: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_/()-]{1,64}$/, 'an actor kind (api_key, session, operator, claim_link) or a key prefix')
    .optional()
    .describe('an actor kind (`api_key`, `session`, `operator`, `claim_link`) or a key prefix (`dpk_1a2b`)'),
  target: z
    .string()
    .trim()
    .regex(/^[a-z_]{1,40}(:[^\s:][^\s]{0,199})?$/, 'a target type (bulk_job) or type:id (bulk_job:<id>)')
    .optional()
    .describe('a target type (`customer`) or one target, `type:id` (`bulk_job:<id>`): who did what to it'),
  from: when.optional().describe('entries at or after this time (ISO 8601)'),
  to: when.optional().describe('entries before this time (ISO 8601)'),
  format: z.enum(['json', 'csv']).optional().describe('`csv` streams every matching entry as CSV'),
});

/** The operator's filters: the reseller's too. */
export const operatorAuditQuery = auditQuery.extend({
  reseller: z.string().trim().min(1).max(64).optional().describe("only this reseller's entries (username)"),
});

type AuditQuery = z.infer<typeof operatorAuditQuery>;

interface EntryRow {
  id: string | number;
  at: Date;
  reseller_id: string | number | null;
  username?: string | null;
  actor_kind: ActorKind;
  actor_id: string | null;
  address: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  summary: Record<string, unknown>;
  route: string | null;
  status: number | null;
}

function auditEntryView(r: EntryRow) {
  return {
    id: String(r.id),
    at: new Date(r.at).toISOString(),
    reseller: r.username ?? null,
    action: r.action,
    actor: { kind: r.actor_kind, id: r.actor_id },
    address: r.address,
    target: { type: r.target_type, id: r.target_id },
    summary: r.summary,
    route: r.route,
    status: r.status,
  };
}

/** Whose entries: one reseller's (a reseller reading its own) or every one (the operator). */
export type AuditScope = { resellerId: number } | { all: true };

function filtered(db: Db, scope: AuditScope, q: AuditQuery): Knex.QueryBuilder {
  const from = q.from ? new Date(q.from) : undefined;
  const to = q.to ? new Date(q.to) : undefined;
  if (from && to && from > to)
    throw new InvalidRequest('`from` is after `to`.', { fields: [{ path: 'query.from', message: 'after query.to' }] });
  return db('audit_entries as a')
    .leftJoin('resellers as r', 'r.id', 'a.reseller_id')
    .select('a.*', 'r.username')
    .modify((b) => {
      if ('resellerId' in scope) b.where('a.reseller_id', scope.resellerId);
      else if (q.reseller) b.where('r.username', q.reseller.toLowerCase());
      if (q.action) q.action.endsWith('.') ? b.whereLike('a.action', `${q.action.replace(/_/g, '\\_')}%`) : b.where('a.action', q.action);
      if (q.actor)
        (ACTOR_KINDS as string[]).includes(q.actor) ? b.where('a.actor_kind', q.actor) : b.whereLike('a.actor_id', `${q.actor}%`);
      if (q.target) {
        const [type, ...id] = q.target.split(':');
        b.where('a.target_type', type);
        if (id.length) b.where('a.target_id', id.join(':'));
      }
      if (from) b.where('a.at', '>=', from);
      if (to) b.where('a.at', '<', to);
    });
}

/** A page of entries, newest first, with the list's cursor paging. */
export async function listAuditEntries(db: Db, scope: AuditScope, query: unknown) {
  const q = parseInput(operatorAuditQuery, query, 'query');
  return paginate(filtered(db, scope, q), q, { column: 'a.id', order: 'desc', key: (r: EntryRow) => r.id }, auditEntryView);
}

const AUDIT_CSV_HEADER = [
  'id',
  'at',
  'reseller',
  'action',
  'actor_kind',
  'actor_id',
  'address',
  'target_type',
  'target_id',
  'route',
  'status',
  'summary',
];

/**
 * Every matching entry as CSV lines (header first), newest first, read `pageSize` rows at a time:
 * an export of years of entries never sits in memory. The query is checked before the first line,
 * so a bad filter is still a 400.
 */
export function auditCsv(db: Db, scope: AuditScope, query: unknown, pageSize = 1000): AsyncGenerator<string> {
  const q = parseInput(operatorAuditQuery, query, 'query');
  filtered(db, scope, q); // throws on a bad range, before anything is written
  return (async function* () {
    yield csvLine(AUDIT_CSV_HEADER);
    let cursor: string | undefined;
    do {
      const page = await paginate(
        filtered(db, scope, q),
        { limit: pageSize, cursor },
        { column: 'a.id', order: 'desc', key: (r: EntryRow) => r.id },
        auditEntryView,
      );
      if (page.items.length)
        yield page.items
          .map((e) =>
            csvLine([
              e.id,
              e.at,
              e.reseller,
              e.action,
              e.actor.kind,
              e.actor.id,
              e.address,
              e.target.type,
              e.target.id,
              e.route,
              e.status,
              JSON.stringify(e.summary),
            ]),
          )
          .join('');
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  })();
}
