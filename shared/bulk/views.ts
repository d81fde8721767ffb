import { z } from 'zod';
import type { Db } from '../platform/db';
import { csvLine } from '../platform/csv';
import type { BulkKind } from '../platform/queues';
import type { Reseller } from '../accounts/resellers';
import { decodeCursor, listQuery, pageOf, parseInput } from '../platform/validation';
import { countItems, DONE_STATUS, ITEM_CSV_COLUMNS, itemView, jobFor, jobParties, type BulkJob, type ItemRow } from './model';

function publicOptions(job: BulkJob) {
  const { profile, ...rest } = job.options;
  // The stored profile never holds the password; the internal id is not part of the public view.
  if (!profile) return rest;
  return {
    ...rest,
    profile:
      profile.mode === 'existing' ? { mode: profile.mode, domain: profile.domain, username: profile.username } : { mode: profile.mode },
  };
}

type Parties = { losing?: { username: string }; gaining?: { username: string } };

export async function jobView(db: Db, job: BulkJob, now: Date) {
  return buildJobView(job, await countItems(db, job.id), await jobParties(db, job), now);
}

function buildJobView(job: BulkJob, raw: Record<string, number>, parties: Parties, now: Date) {
  const done = DONE_STATUS[job.kind];
  const counts: Record<string, number> = { pending: 0, running: 0, [done]: 0, skipped: 0, failed: 0, cancelled: 0 };
  for (const [k, v] of Object.entries(raw)) counts[k] = v;
  const finished = counts[done] + counts.skipped + counts.failed + counts.cancelled;
  let rate: number | null = null;
  let eta: number | null = null;
  if (job.started_at && finished > 0) {
    const end = job.finished_at ?? now;
    const seconds = Math.max(0.001, (end.getTime() - new Date(job.started_at).getTime()) / 1000);
    rate = Math.round((finished / seconds) * 10) / 10;
    if (job.status === 'running') eta = Math.ceil((job.total - finished) / (finished / seconds));
  }
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    losing_reseller: parties.losing?.username ?? null,
    gaining_reseller: parties.gaining?.username ?? null,
    total: job.total,
    counts,
    options: publicOptions(job),
    created_at: job.created_at,
    started_at: job.started_at,
    suspended_at: job.suspended_at,
    finished_at: job.finished_at,
    rate,
    eta_seconds: eta,
    error: job.error,
    links: jobLinks(job),
  };
}

export function jobLinks(job: Pick<BulkJob, 'id' | 'kind'>) {
  const base = job.kind === 'push' ? `/v1/bulk-pushes/${job.id}` : `/v1/jobs/${job.id}`;
  return { self: base, items: `${base}/items`, events: `${base}/events`, cancel: `${base}/cancel` };
}

export async function getJob(db: Db, me: Reseller, id: string, kind: BulkKind | undefined, now: Date) {
  return jobView(db, await jobFor(db, me.id, id, 'view', { kind }), now);
}

export async function listJobs(db: Db, me: Reseller, query: unknown, kind: BulkKind | undefined, now: Date) {
  const q = parseInput(listQuery, query, 'query');
  const before = decodeCursor(q.cursor);
  const rows: BulkJob[] = await db('bulk_jobs')
    .where((b) => b.where('losing_reseller_id', me.id).orWhere('gaining_reseller_id', me.id))
    .modify((b) => {
      if (kind) b.where({ kind });
      if (before) b.where('seq', '<', before);
    })
    .orderBy('seq', 'desc')
    .limit(q.limit + 1);
  const page = pageOf(
    rows,
    q.limit,
    (r) => r.seq,
    (r) => r,
  );
  return { items: await jobViews(db, page.items, now), next_cursor: page.next_cursor };
}

/** Views of many jobs in two queries, not two per job (a page of the list; the event streams' shared poll). */
export async function jobViews(db: Db, jobs: BulkJob[], now: Date) {
  const ids = jobs.map((j) => j.id);
  const counted: any[] = ids.length
    ? await db('bulk_job_items')
        .whereRaw('job_id = any(?::uuid[])', [ids])
        .groupBy('job_id', 'status')
        .select('job_id', 'status')
        .count('* as n')
    : [];
  const resellerIds = [...new Set(jobs.flatMap((j) => [j.losing_reseller_id, j.gaining_reseller_id]).filter((x) => x !== null))];
  const names = new Map((await db('resellers').whereIn('id', resellerIds).select('id', 'username')).map((r) => [Number(r.id), r]));
  return jobs.map((j) => {
    const raw: Record<string, number> = {};
    for (const c of counted) if (c.job_id === j.id) raw[c.status] = Number(c.n);
    const parties = {
      losing: names.get(Number(j.losing_reseller_id)),
      gaining: j.gaining_reseller_id === null ? undefined : names.get(Number(j.gaining_reseller_id)),
    };
    return buildJobView(j, raw, parties, now);
  });
}

/** The current views of the given jobs (no access check: the caller did it), by id. */
export async function jobViewsById(db: Db, ids: string[], now: Date) {
  const jobs: BulkJob[] = ids.length ? await db('bulk_jobs').whereRaw('id = any(?::uuid[])', [ids]) : [];
  const views = await jobViews(db, jobs, now);
  return new Map(views.map((v) => [v.id, v]));
}

const itemStatus = z.enum(['pending', 'running', 'pushed', 'released', 'skipped', 'failed', 'cancelled']);
export const itemsQuery = listQuery.extend({ status: itemStatus.optional() });

export async function listItems(db: Db, me: Reseller, id: string, query: unknown, kind?: BulkKind) {
  const q = parseInput(itemsQuery, query, 'query');
  const job = await jobFor(db, me.id, id, 'view', { kind });
  const after = decodeCursor(q.cursor);
  const rows: ItemRow[] = await db('bulk_job_items')
    .where({ job_id: job.id })
    .modify((b) => {
      if (q.status) b.where({ status: q.status });
      if (after) b.where('id', '>', after);
    })
    .orderBy('id')
    .limit(q.limit + 1);
  return pageOf(rows, q.limit, (r) => r.id, itemView);
}

/** Every item as CSV, read in pages so a 50,000-item job never sits in memory at once. */
export async function* itemsCsv(db: Db, jobId: string, status?: string): AsyncGenerator<string> {
  yield csvLine([...ITEM_CSV_COLUMNS]);
  let after = 0;
  for (;;) {
    const rows: ItemRow[] = await db('bulk_job_items')
      .where({ job_id: jobId })
      .modify((b) => (status ? b.where({ status }) : b))
      .where('id', '>', after)
      .orderBy('id')
      .limit(5000);
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

export async function itemsCsvFor(db: Db, me: Reseller, id: string, query: unknown, kind?: BulkKind) {
  const q = parseInput(itemsQuery, query, 'query');
  const job = await jobFor(db, me.id, id, 'view', { kind });
  return { filename: `${job.kind}-${job.id}-items.csv`, rows: itemsCsv(db, job.id, q.status) };
}

export async function collectCsv(db: Db, jobId: string): Promise<string> {
  let csv = '';
  for await (const part of itemsCsv(db, jobId)) csv += part;
  return csv;
}
