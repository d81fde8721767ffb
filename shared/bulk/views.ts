import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import { csvLine } from '../platform/csv';
import type { Reseller } from '../accounts/resellers';
import { listQuery, parseInput } from '../platform/validation';
import { paginate } from '../platform/sql';
import { itemReasons, itemStatuses, kindOf, type BulkDeps, type BulkKindDef, type KindTable } from './kind';
import { jobItems } from './unstarted';
import { jobOutcome, outcomeText } from './outcome';
import { countItems, countItemsOf, ITEM_CSV_COLUMNS, itemView, jobFor, jobParties, type BulkJob, type ItemRow } from './model';

/** Views need the database and the kind table (done status, links, public options). */
export type ViewDeps = Pick<BulkDeps, 'db' | 'kinds'>;

type Parties = { losing?: { username: string }; gaining?: { username: string } };

export async function jobView(deps: ViewDeps, job: BulkJob, now: Date) {
  return buildJobView(deps.kinds, job, await countItems(deps.db, job.id), await jobParties(deps.db, job), now);
}

function buildJobView(kinds: KindTable, job: BulkJob, raw: Record<string, number>, parties: Parties, now: Date) {
  const kind = kindOf(kinds, job.kind);
  const done = kind.doneStatus;
  const counts: Record<string, number> = { pending: 0, running: 0, [done]: 0, skipped: 0, failed: 0, cancelled: 0 };
  for (const [k, v] of Object.entries(raw)) counts[k] = v;
  const { rate, eta } = pace(job, counts[done] + counts.skipped + counts.failed, counts.pending + counts.running, now);
  const told = { status: job.status, total: job.total, counts, doneStatus: done, start_at: job.start_at };
  const options = kind.publicOptions ? kind.publicOptions(job) : job.options;
  const names = { losing: parties.losing?.username ?? null, gaining: parties.gaining?.username ?? null };
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    outcome: jobOutcome(told),
    outcome_text: outcomeText(told),
    losing_reseller: parties.losing?.username ?? null,
    gaining_reseller: parties.gaining?.username ?? null,
    total: job.total,
    counts,
    options,
    done_status: done,
    labels: {
      noun: kind.labels.noun,
      unit: kind.labels.unit,
      units: kind.labels.units,
      sent_title: kind.labels.title(names, 'sent'),
      received_title: kind.labels.title(names, 'received'),
    },
    details: kind.labels.details(options as Record<string, unknown>),
    submitted_by: job.submitted_by ?? null,
    created_at: job.created_at,
    start_at: job.start_at ?? null,
    started_at: job.started_at,
    suspended_at: job.suspended_at,
    finished_at: job.finished_at,
    rate,
    eta_seconds: eta,
    error: job.error,
    links: jobLinks(kind, job),
  };
}

/**
 * `rate`: items the workers finished (done, skipped or failed — not cancelled, which no worker
 * touched) per second of running time: from the start to the end, or to now, less the time spent
 * suspended (a suspended job's clock stops at `suspended_at`). `eta_seconds` only while running.
 */
function pace(job: BulkJob, worked: number, open: number, now: Date): { rate: number | null; eta: number | null } {
  if (!job.started_at || worked === 0) return { rate: null, eta: null };
  const start = new Date(job.started_at).getTime();
  const end = Math.max(start, new Date(job.suspended_at ?? job.finished_at ?? now).getTime());
  const running = (end - start) / 1000 - Number(job.suspended_seconds ?? 0);
  const perSecond = worked / Math.max(0.001, running);
  return {
    rate: Math.round(perSecond * 10) / 10,
    eta: job.status === 'running' ? Math.ceil(open / perSecond) : null,
  };
}

/** A job's links, under its kind's API path. */
export function jobLinks(kind: Pick<BulkKindDef, 'path'>, job: Pick<BulkJob, 'id'>) {
  const base = `${kind.path}/${job.id}`;
  return { self: base, items: `${base}/items`, events: `${base}/events`, cancel: `${base}/cancel` };
}

export async function getJob(deps: ViewDeps, me: Reseller, id: string, kind: string | undefined, now: Date) {
  return jobView(deps, await jobFor(deps.db, me.id, id, 'view', { kind }), now);
}

export async function listJobs(deps: ViewDeps, me: Reseller, query: unknown, kind: string | undefined, now: Date) {
  const { db } = deps;
  const q = parseInput(listQuery, query, 'query');
  const rows = db('bulk_jobs')
    .where((b) => b.where('losing_reseller_id', me.id).orWhere('gaining_reseller_id', me.id))
    .modify((b) => (kind ? b.where({ kind }) : b));
  const page = await paginate(rows, q, { column: 'seq', key: (r: BulkJob) => r.seq, order: 'desc' }, (r) => r);
  return { items: await jobViews(deps, page.items, now), next_cursor: page.next_cursor };
}

/** Views of many jobs in two queries, not two per job (a page of the list; the event streams' shared poll). */
export async function jobViews(deps: ViewDeps, jobs: BulkJob[], now: Date) {
  const { db } = deps;
  const ids = jobs.map((j) => j.id);
  // Per-chunk counters, summed: never a GROUP BY over a big job's items.
  const counted = await countItemsOf(db, ids);
  const resellerIds = [...new Set(jobs.flatMap((j) => [j.losing_reseller_id, j.gaining_reseller_id]).filter((x) => x !== null))];
  const names = new Map((await db('resellers').whereIn('id', resellerIds).select('id', 'username')).map((r) => [Number(r.id), r]));
  return jobs.map((j) => {
    const raw = counted.get(j.id) ?? {};
    const parties = {
      losing: names.get(Number(j.losing_reseller_id)),
      gaining: j.gaining_reseller_id === null ? undefined : names.get(Number(j.gaining_reseller_id)),
    };
    return buildJobView(deps.kinds, j, raw, parties, now);
  });
}

/** The current views of the given jobs (no access check: the caller did it), by id. */
export async function jobViewsById(deps: ViewDeps, ids: string[], now: Date) {
  const jobs: BulkJob[] = ids.length ? await deps.db('bulk_jobs').whereRaw('id = any(?::uuid[])', [ids]) : [];
  const views = await jobViews(deps, jobs, now);
  return new Map(views.map((v) => [v.id, v]));
}

/**
 * `?status=` takes any item status of any kind; `?reason=` a reason code; `?q=` a part of the domain
 * name (case-insensitive), so one domain is found in a 50,000-item job without paging.
 */
export function itemsQuery(kinds: KindTable) {
  return listQuery.extend({
    status: z.enum(itemStatuses(kinds)).optional(),
    reason: z.enum(itemReasons(kinds)).optional(),
    q: z.string().trim().toLowerCase().max(253).optional(),
  });
}

type ItemFilter = { status?: string; reason?: string; q?: string };

/** The item filters, on `jobItems`' rows. `q` matches as a substring, its LIKE wildcards taken literally. */
function filtered(b: Knex.QueryBuilder, f: ItemFilter): Knex.QueryBuilder {
  if (f.status) b.where('status', f.status);
  if (f.reason) b.where('reason', f.reason);
  if (f.q) b.where('domain_name', 'like', `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  return b;
}

export async function listItems(deps: ViewDeps, me: Reseller, id: string, query: unknown, kind?: string) {
  const { db } = deps;
  const q = parseInput(itemsQuery(deps.kinds), query, 'query');
  const job = await jobFor(db, me.id, id, 'view', { kind });
  const rows = jobItems(db, job.id).modify((b) => filtered(b, q));
  return paginate(rows, q, { column: 'id', key: (r: ItemRow) => r.id }, itemView);
}

/** Rows per read of a CSV export: a 50,000-item job is ten reads, never all in memory at once. */
export const CSV_PAGE_ROWS = 5000;

/** Every item as CSV, read in pages so a 50,000-item job never sits in memory at once. */
export async function* itemsCsv(db: Db, jobId: string, filter: ItemFilter = {}): AsyncGenerator<string> {
  yield csvLine([...ITEM_CSV_COLUMNS]);
  let after = 0;
  for (;;) {
    const rows: ItemRow[] = await jobItems(db, jobId)
      .modify((b) => filtered(b, filter))
      .where('id', '>', after)
      .orderBy('id')
      .limit(CSV_PAGE_ROWS);
    if (rows.length === 0) return;
    let out = '';
    for (const r of rows) {
      const v = itemView(r);
      out += csvLine(ITEM_CSV_COLUMNS.map((c) => v[c]));
    }
    yield out;
    after = rows[rows.length - 1].id;
  }
}

export async function itemsCsvFor(deps: ViewDeps, me: Reseller, id: string, query: unknown, kind?: string) {
  const { db } = deps;
  const q = parseInput(itemsQuery(deps.kinds), query, 'query');
  const job = await jobFor(db, me.id, id, 'view', { kind });
  return { filename: `${job.kind}-${job.id}-items.csv`, rows: itemsCsv(db, job.id, q) };
}

export async function collectCsv(db: Db, jobId: string): Promise<string> {
  let csv = '';
  for await (const part of itemsCsv(db, jobId)) csv += part;
  return csv;
}
