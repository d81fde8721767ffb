import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { type AuditScope, auditCsv, auditQuery, listAuditEntries, operatorActorId, operatorAuditQuery } from '../../shared/audit/entries';
import type { Db } from '../../shared/platform/db';
import type { Logger } from '../../shared/platform/logger';
import { me } from '../auth';
import { type Routes, recordBeforeAnswer } from './route';

const actor = z.strictObject({
  kind: z.enum(['api_key', 'session', 'operator', 'claim_link']),
  id: z.string().nullable().describe("a key's public prefix; for a session `key prefix/session hash prefix`; never a secret"),
});

const AuditEntry = z
  .strictObject({
    id: z.string(),
    at: z.string().describe('when it was recorded (ISO 8601, UTC)'),
    reseller: z.string().nullable().describe('the account it belongs to (username); null: operator-only'),
    action: z.string().describe('`resource.verb`: `customer.update`, `bulk_job.cancel`, `dashboard.queue.clean`'),
    actor,
    address: z.string().nullable().describe('the client address (behind a proxy: as trust proxy derives it)'),
    target: z.strictObject({ type: z.string(), id: z.string().nullable() }),
    summary: z.record(z.string(), z.unknown()).describe('what changed: `fields` (names only) and safe values; never secrets'),
    route: z.string().nullable().describe('the route asked: `PATCH /v1/customers/:id`'),
    status: z.number().int().nullable().describe('the status answered'),
  })
  .meta({ id: 'AuditEntry' });

const page = z.strictObject({ items: z.array(AuditEntry), next_cursor: z.string().nullable() });

/** The entries of `scope` as JSON pages, or (`?format=csv`, `Accept: text/csv`, or a `.csv` path) every one as CSV. */
function auditList(db: Db, scopeOf: (req: Request, res: Response) => AuditScope | Promise<AuditScope>, csv = false): RequestHandler {
  return async (req, res) => {
    const scope = await scopeOf(req, res);
    if (csv || req.query.format === 'csv' || req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      const rows = auditCsv(db, scope, req.query);
      res
        .status(200)
        .type('text/csv')
        .attachment(`audit-${new Date().toISOString().slice(0, 10)}.csv`);
      for await (const part of rows) if (!res.write(part)) await new Promise((ok) => res.once('drain', ok));
      return res.end();
    }
    res.json(await listAuditEntries(db, scope, req.query));
  };
}

const own = (_req: Request, res: Response): AuditScope => ({ resellerId: Number(me(res).id) });
const all = (): AuditScope => ({ all: true });

const FILTERS =
  'Newest first. Filters: `action` (exact, or a prefix ending in `.` such as `customer.`), `actor` (a kind: `api_key`, `session`, `operator`, `claim_link`, or a key prefix), `target` (`customer`, or one target: `bulk_job:<id>`), `from`/`to` (ISO 8601; `from` inclusive, `to` exclusive). Pages by `cursor` like every list; `?format=csv` (or `Accept: text/csv`) streams every matching entry as CSV instead.';

/** The audit trail (docs/audit.md): a reseller reads its own account's entries, the operator every one. */
export const audit: Routes = {
  'GET /v1/audit': {
    handle: ({ db }) => auditList(db, own),
    summary: "Your account's audit trail: who changed what, when, from where",
    description: `${FILTERS} Entries of operator actions on your account (a key issued, push enabled) are included.`,
    tag: 'Audit',
    auth: 'reseller',
    query: auditQuery,
    replies: { 200: { description: 'a page of entries (JSON) or every entry (CSV)', schema: page, media: ['text/csv'] } },
  },
  'GET /v1/audit.csv': {
    handle: ({ db }) => auditList(db, own, true),
    summary: "Your account's audit trail as CSV (every matching entry, streamed)",
    description: 'The same filters as `GET /v1/audit`; a plain download link.',
    tag: 'Audit',
    auth: 'reseller',
    query: auditQuery,
    replies: { 200: { description: 'every matching entry, newest first', media: ['text/csv'] } },
  },
  'GET /v1/admin/audit': {
    handle: ({ db }) => auditList(db, all),
    summary: "Every account's audit trail, operator actions included",
    description: `${FILTERS} \`reseller\` (username) keeps one account's entries.`,
    tag: 'Operator',
    auth: 'operator',
    query: operatorAuditQuery,
    replies: { 200: { description: 'a page of entries (JSON) or every entry (CSV)', schema: page, media: ['text/csv'] } },
  },
  'GET /v1/admin/audit.csv': {
    handle: ({ db }) => auditList(db, all, true),
    summary: 'Every audit entry as CSV (streamed)',
    description: 'The same filters as `GET /v1/admin/audit`.',
    tag: 'Operator',
    auth: 'operator',
    query: operatorAuditQuery,
    replies: { 200: { description: 'every matching entry, newest first', media: ['text/csv'] } },
  },
};

/** The action bull-board's API route names: `/api/queues/:q/clean/:status` → `dashboard.queue.clean`. */
export function dashboardAction(method: string, path: string) {
  const word = (s: string | undefined) => (s ?? '').replace(/[^A-Za-z0-9]+/g, '_').toLowerCase();
  const seg = path
    .split('?')[0]
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  const [api, area, queue, ...rest] = seg;
  if (api !== 'api') return { action: 'dashboard.request', targetType: 'dashboard', targetId: path.slice(0, 200), details: { method } };
  if (area !== 'queues')
    return { action: `dashboard.${[area, queue, ...rest].filter(Boolean).map(word).join('.')}`, targetType: 'dashboard', targetId: null };
  // Every queue at once: /api/queues/pause, /api/queues/resume.
  if (!rest.length && ['pause', 'resume'].includes(queue))
    return { action: `dashboard.queues.${word(queue)}`, targetType: 'queue', targetId: null };
  const QUEUE_VERBS = ['add', 'retry', 'promote', 'clean', 'pause', 'resume', 'concurrency', 'rate-limit', 'empty', 'obliterate'];
  if (rest[0] === 'job-schedulers')
    return {
      action: `dashboard.job_scheduler.${word(rest[2] ?? (method === 'DELETE' ? 'remove' : 'update'))}`,
      targetType: 'job_scheduler',
      targetId: `${queue}/${rest[1]}`,
    };
  if (QUEUE_VERBS.includes(rest[0])) {
    const verb = rest[0] === 'rate-limit' && rest[1] === 'release' ? 'rate_limit_release' : word(rest[0]);
    return {
      action: `dashboard.queue.${verb}`,
      targetType: 'queue',
      targetId: queue,
      details: rest[0] !== 'rate-limit' && rest[1] ? { status: rest[1] } : {},
    };
  }
  return { action: `dashboard.job.${word(rest[1] ?? method)}`, targetType: 'queue_job', targetId: `${queue}/${rest[0]}` };
}

/**
 * The operator pages under /admin (bull-board's buttons, the mailbox): every change (any method
 * but GET/HEAD/OPTIONS) that succeeds is recorded before its answer leaves, like a route of the
 * table, as `dashboard.…` (bull-board's action) or `mailbox.<method>`. Mounted after the operator
 * check, so a refused request (401, 403 origin_mismatch) records nothing.
 */
export function auditAdminChanges(deps: { db: Db; log: Logger }, area: 'dashboard' | 'mailbox', base: string): RequestHandler {
  return (req, res, next) => {
    if (['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return next();
    const key = req.get('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const basic = req.get('authorization')?.match(/^Basic\s+(\S+)$/i);
    const password = basic ? Buffer.from(basic[1], 'base64').toString().split(':').slice(1).join(':') : undefined;
    const what =
      area === 'dashboard'
        ? dashboardAction(req.method, req.path)
        : { action: `mailbox.${req.method.toLowerCase()}`, targetType: 'mailbox', targetId: req.path.slice(0, 200) };
    recordBeforeAnswer(req, res, deps, `${req.method} ${base}${req.path}`.slice(0, 300), () => ({
      actor: { kind: 'operator', id: operatorActorId(key ?? password) },
      action: what.action,
      targetType: what.targetType,
      targetId: what.targetId,
      summary: {
        fields: req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? Object.keys(req.body).sort() : undefined,
        ...('details' in what ? what.details : {}),
      },
    }));
    next();
  };
}
