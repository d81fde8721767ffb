import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import { csvLine } from '../platform/csv';
import type { Reseller } from '../accounts/resellers';
import { listQuery, parseInput } from '../platform/validation';
import { paginate } from '../platform/sql';
import { itemReasons, itemStatuses, kindOf, type BulkDeps, type BulkKindDef, type KindTable } from './kind';
import { jobOutcome, outcomeText } from './outcome';
import { NotFound } from '../platform/errors';
import { decodeCursor, pageOf } from '../platform/validation';
import { countItemsOf, isJobId, ITEM_CSV_COLUMNS, itemView, jobFor, mayAccess, type BulkJob, type ItemRow } from './model';

/** Views need the database and the kind table (done status, links, public options). */
type ViewDeps = Pick<BulkDeps, 'db' | 'kinds'>;

type Parties = { losing?: { username: string }; gaining?: { username: string } };

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

/**
 * `GET …/:id`: the job, its items per status (summed from the per-chunk counters) and its two
 * resellers' names in one statement, so a view waits for one round trip, not three, on a database
 * busy with a push. Reading the counters never waits on the workers: a plain read takes no row
 * lock, so a chunk's transaction holding its counter row does not hold up the view (MVCC shows
 * the last committed counts).
 */
export async function getJob(deps: ViewDeps, me: Reseller, id: string, kind: string | undefined, now: Date) {
  if (!isJobId(id)) throw new NotFound('No such job.');
  const { rows } = await deps.db.raw(
    `select j.*,
       (select coalesce(jsonb_object_agg(s.key, s.n), '{}'::jsonb)
        from (select e.key, sum(e.value::bigint) as n
              from bulk_job_chunk_counts c, jsonb_each_text(c.counts) e
              where c.job_id = j.id group by e.key having sum(e.value::bigint) <> 0) s) as view_counts,
       (select r.username from resellers r where r.id = j.losing_reseller_id) as view_losing,
       (select r.username from resellers r where r.id = j.gaining_reseller_id) as view_gaining
     from bulk_jobs j where j.id = ?`,
    [id],
  );
  const row = rows[0] as
    | (BulkJob & { view_counts: Record<string, number>; view_losing: string | null; view_gaining: string | null })
    | undefined;
  if (!row || !mayAccess(row, me.id, 'view', kind)) throw new NotFound('No such job.');
  const { view_counts, view_losing, view_gaining, ...job } = row;
  const parties: Parties = {
    losing: view_losing === null ? undefined : { username: view_losing },
    gaining: view_gaining === null ? undefined : { username: view_gaining },
  };
  return buildJobView(deps.kinds, job, view_counts, parties, now);
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
async function jobViews(deps: ViewDeps, jobs: BulkJob[], now: Date) {
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
 *
 * One schema per kind table, not one per request: zod compiles an object schema into a function on
 * its first parse, so a new schema per items page cost a compile each time (~21 KB of garbage a
 * page, and the GC pauses that come with it, beside a push).
 */
export function itemsQuery(kinds: KindTable) {
  const cached = itemsQueries.get(kinds);
  if (cached) return cached;
  const schema = buildItemsQuery(kinds);
  itemsQueries.set(kinds, schema);
  return schema;
}

const buildItemsQuery = (kinds: KindTable) =>
  listQuery.extend({
    status: z.enum(itemStatuses(kinds)).optional(),
    reason: z.enum(itemReasons(kinds)).optional(),
    q: z.string().trim().toLowerCase().max(253).optional(),
  });
const itemsQueries = new WeakMap<KindTable, ReturnType<typeof buildItemsQuery>>();

type ItemFilter = { status?: string; reason?: string; q?: string };

/** `?q=` as a LIKE pattern: a substring, its LIKE wildcards taken literally. */
const containing = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export async function listItems(deps: ViewDeps, me: Reseller, id: string, query: unknown, kind?: string) {
  const { db } = deps;
  const q = parseInput(itemsQuery(deps.kinds), query, 'query');
  if (!isJobId(id)) throw new NotFound('No such job.');
  const rows = await itemsPage(db, id, q, decodeCursor(q.cursor), q.limit + 1);
  const job = rows[0];
  if (
    !job ||
    !mayAccess({ kind: job.job_kind, losing_reseller_id: job.job_losing, gaining_reseller_id: job.job_gaining }, me.id, 'view', kind)
  )
    throw new NotFound('No such job.');
  const items = rows.filter((r) => r.id !== null) as ItemRow[];
  return pageOf(items, q.limit, (r: ItemRow) => r.id, itemView);
}

/** A row of `itemsPage`: the job's own columns (for its access rule) beside an item, or beside nulls when no item matches. */
type PageRow = Omit<ItemRow, 'id'> & { id: number | null; job_kind: string; job_losing: number; job_gaining: number | null };

/**
 * The first `limit` items after `after` (by id), started or not, as `jobItems` would list them but
 * without reading every unstarted item: each side takes its own first `limit` rows, and the two are
 * merged. Item rows come from the (job_id, id) index. Unstarted items are read chunk by chunk in
 * chunk order, each chunk's own first `limit`, and the reading stops once `limit` rows are out: a
 * chunk's ids are all below the next chunk's, since the submit reserves them in submission order
 * (unstarted.ts), so the first chunks hold the lowest ids. The chunk loop is spelled out (an ordered
 * list of the job's chunks, joined laterally to each one's unnest, under a limit) rather than left
 * to an incremental sort: the planner took the chunks table for empty, as it mostly is when last
 * analyzed, and sorted every unstarted item of the job instead (11 ms a page at 20,000 pending
 * items, 30–120 ms at 50,000, growing with the job). The job's row comes in the same statement (one
 * round trip, not two): no row at all when there is no such job.
 *
 * Item rows are bounded as a row range, `(job_id, id)` between `(job, after)` and `(job, max)`, not
 * as `job_id = ? and id > ?`: with the equality the planner thinks any index in `id` order will do
 * and picks by its guess of the job's size. While a job is pushing its items are newer than the
 * table's statistics, so the guess was ~50 rows: it fetched every item of the job and sorted them
 * (10 ms a page at 20,000 items, growing with the job), or, once analyzed, walked the primary key
 * from the first item of every job. Only the `(job_id, id)` index gives the range's order, so the
 * page is always its first `limit` entries (0.12 ms).
 */
async function itemsPage(db: Db, jobId: string, f: ItemFilter, after: string | undefined, limit: number): Promise<PageRow[]> {
  const where: string[] = [];
  const bindings: Knex.RawBinding[] = [];
  if (f.status) {
    where.push('status = ?');
    bindings.push(f.status);
  }
  if (f.reason) {
    where.push('reason = ?');
    bindings.push(f.reason);
  }
  if (f.q) {
    where.push('domain_name like ?');
    bindings.push(containing(f.q));
  }
  const cond = where.map((w) => ` and ${w}`).join('');
  // A chunk whose last id is at or before `after` is passed over without unnesting it.
  const chunkAfter = after === undefined ? '' : ' and c.item_ids[cardinality(c.item_ids)] > ?::bigint';
  const unstartedCond = after === undefined ? cond : ` and id > ?::bigint${cond}`;
  const unstartedBindings = after === undefined ? bindings : [after, after, ...bindings];
  const { rows } = await db.raw(
    `select j.kind as job_kind, j.losing_reseller_id as job_losing, j.gaining_reseller_id as job_gaining, page.*
     from bulk_jobs j left join lateral (
       select * from (
         (select id, job_id, chunk, domain_name, product, product_id, status, reason, message, was_locked, relocked, started_at, finished_at
          from bulk_job_items
          where (job_id, id) > (j.id, ?::bigint) and (job_id, id) <= (j.id, ${MAX_BIGINT}::bigint)${cond}
          order by job_id, id limit ?)
         union all
         (select s.* from (select c.* from bulk_job_chunks c where c.job_id = j.id${chunkAfter} order by c.chunk) c
          cross join lateral (
            select * from (
              select u.id, c.job_id, c.chunk, u.name as domain_name, coalesce(u.product, 'domain') as product, u.product_id,
                     'pending'::text as status, null::text as reason, null::text as message, null::boolean as was_locked,
                     null::boolean as relocked, null::timestamptz as started_at, null::timestamptz as finished_at
              from unnest(c.item_ids, c.names, c.products, c.product_ids) as u(id, name, product, product_id)) unstarted
            where true${unstartedCond} order by id limit ?) s
          limit ?)
       ) items order by id limit ?
     ) page on true
     where j.id = ?
     order by page.id`,
    [after ?? '0', ...bindings, limit, ...unstartedBindings, limit, limit, limit, jobId],
  );
  return rows as PageRow[];
}

/** The largest item id: the upper end of a job's `(job_id, id)` range. */
const MAX_BIGINT = '9223372036854775807';

/** Rows per read of a CSV export: a 50,000-item job is ten reads, never all in memory at once. */
const CSV_PAGE_ROWS = 5000;

/**
 * Every item as CSV, read in pages so a 50,000-item job never sits in memory at once. Each page is
 * `itemsPage`'s: reading `jobItems` in id order sorted every unstarted item of the job per page
 * (about 1 s a page at 500,000 items).
 */
async function* itemsCsv(db: Db, jobId: string, filter: ItemFilter = {}): AsyncGenerator<string> {
  yield csvLine([...ITEM_CSV_COLUMNS]);
  let after: number | undefined;
  for (;;) {
    const rows = (await itemsPage(db, jobId, filter, after === undefined ? undefined : String(after), CSV_PAGE_ROWS)).filter(
      (r) => r.id !== null,
    ) as ItemRow[];
    if (rows.length === 0) return;
    let out = '';
    for (const r of rows) {
      const v = itemView(r);
      out += csvLine(ITEM_CSV_COLUMNS.map((c) => v[c]));
    }
    yield out;
    // A short page is the last: no statement to learn that the next one is empty.
    if (rows.length < CSV_PAGE_ROWS) return;
    after = rows[rows.length - 1].id;
  }
}

export async function itemsCsvFor(deps: ViewDeps, me: Reseller, id: string, query: unknown, kind?: string) {
  const { db } = deps;
  const q = parseInput(itemsQuery(deps.kinds), query, 'query');
  const job = await jobFor(db, me.id, id, 'view', { kind });
  return { filename: `${job.kind}-${job.id}-items.csv`, rows: itemsCsv(db, job.id, q) };
}
