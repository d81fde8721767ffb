import type { Knex } from 'knex';
import type { Db } from '../platform/db';
import { NotFound } from '../platform/errors';

export type JobStatus = 'scheduled' | 'queued' | 'running' | 'suspended' | 'cancelling' | 'completed' | 'cancelled' | 'failed';
/**
 * The engine's item statuses; each kind adds its done status (push: `pushed`, release:
 * `released`), so the type stays open to strings.
 */
export type ItemStatus = 'pending' | 'running' | 'skipped' | 'failed' | 'cancelled' | (string & Record<never, never>);

export const FINISHED_JOB: readonly JobStatus[] = ['completed', 'cancelled', 'failed'];
export const OPEN_ITEM: readonly ItemStatus[] = ['pending', 'running'];

/**
 * Rows whose lease is free: never taken, released, or run out (its worker died or is paused). Read
 * against the clock (`clock_timestamp()`), not the transaction's start: a take that waited on a lock
 * must not see a lease as live that ran out while it waited.
 */
export function leaseFree(q: Knex.QueryBuilder, db: Knex): Knex.QueryBuilder {
  return q.where((l) => l.whereNull('lease_until').orWhere('lease_until', '<', db.raw('clock_timestamp()')));
}

/** A lease of `ms` from now by the clock (not `now()`, the transaction's start), as written by every lease writer. */
export function leaseSql(ms: number): string {
  return `clock_timestamp() + (${Math.floor(Number(ms))} * interval '1 millisecond')`;
}

/** Who submitted a job: never the key, only its public prefix (shown in the console's key list). */
export interface Submitter {
  via: 'api_key' | 'session';
  key_prefix: string | null;
}

/** What the engine itself reads from any job's options; the rest belongs to the kind. */
type JobOptions = { email_results_to?: string | null; start_at_requested?: string | null } & Record<string, unknown>;

export interface BulkJob {
  id: string;
  seq: number;
  /** A name in the kind table (`shared/kinds.ts`). */
  kind: string;
  status: JobStatus;
  /** The reseller who started the job: the pushing one, or the one releasing a customer. */
  losing_reseller_id: number;
  /** The receiving reseller of a push; null for a release. */
  gaining_reseller_id: number | null;
  /** The customer a release acts for; null for a push. */
  customer_id: number | null;
  /** Checked against the kind's schema when the job is created; a kind reads them with `kind.options.parse`. */
  options: JobOptions;
  total: number;
  chunk_count: number;
  generation: number;
  idempotency_key: string | null;
  request_hash: string | null;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  suspended_at: Date | null;
  /** When a job that waits (grace window or schedule) starts; null for a job that started at once. */
  start_at: Date | null;
  /** Who submitted it: `{via: 'api_key' | 'session', key_prefix}`; null for older jobs. */
  submitted_by: Submitter | null;
  /** Time spent suspended after the start, summed at each resume (not running time). */
  suspended_seconds: number;
  cancel_requested_at: Date | null;
  finished_at: Date | null;
}

export interface ItemRow {
  id: number;
  job_id: string;
  chunk: number;
  /** The domain; a release's package item stores `package:<service package id>` here. */
  domain_name: string;
  /** `domain` (push and release) or `package` (release; product_id is the service package). */
  product: 'domain' | 'package';
  product_id: number | null;
  status: ItemStatus;
  reason: string | null;
  message: string | null;
  was_locked: boolean | null;
  relocked: boolean | null;
  started_at: Date | null;
  finished_at: Date | null;
  /**
   * The attempt holding a `running` item (a random token per take): every later write and registry
   * call of that attempt is conditional on it, so a paused attempt whose items were taken over is refused.
   */
  lease_owner?: string | null;
  /**
   * Not a row yet: taken straight from an unstarted chunk (unstarted.ts). The statement that first
   * writes it inserts it (with its result, or `running` for later steps) and clears this flag.
   */
  fresh?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function loadJob(db: Db | Knex.Transaction, id: string, forUpdate = false): Promise<BulkJob | undefined> {
  if (!UUID.test(id)) return undefined;
  const q = db('bulk_jobs').where({ id }).first();
  return forUpdate ? q.forUpdate() : q;
}

/** Who may look at a job: its submitter, and (read-only) the gaining reseller. Anyone else gets 404. */
type Access = 'view' | 'control';

export async function jobFor(
  db: Db | Knex.Transaction,
  resellerId: number,
  id: string,
  access: Access,
  opts: { kind?: string; forUpdate?: boolean } = {},
): Promise<BulkJob> {
  const job = await loadJob(db, id, opts.forUpdate);
  if (!job || !mayAccess(job, resellerId, access, opts.kind)) throw new NotFound('No such job.');
  return job;
}

/** `jobFor`'s rule on a row already read (views read the job with its counts in one statement). */
export function mayAccess(
  job: Pick<BulkJob, 'kind' | 'losing_reseller_id' | 'gaining_reseller_id'>,
  resellerId: number,
  access: Access,
  kind?: string,
): boolean {
  if (kind && job.kind !== kind) return false;
  return Number(job.losing_reseller_id) === resellerId || (access === 'view' && Number(job.gaining_reseller_id) === resellerId);
}

/** Whether `id` can name a job at all (a job id is a UUID): anything else is not found, without a query. */
export function isJobId(id: string): boolean {
  return UUID.test(id);
}

/**
 * Items per status, for each of the jobs: summed from the per-chunk counters the item triggers keep
 * (migration 20261123200100), at most one row per chunk instead of every item.
 */
export async function countItemsOf(db: Db | Knex.Transaction, jobIds: string[]): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>(jobIds.map((id) => [id, {}]));
  if (jobIds.length === 0) return out;
  const { rows } = await db.raw(
    `select c.job_id, e.key as status, sum(e.value::bigint) as n
     from bulk_job_chunk_counts c, jsonb_each_text(c.counts) e
     where c.job_id = any(?::uuid[]) group by c.job_id, e.key`,
    [jobIds],
  );
  for (const r of rows as { job_id: string; status: string; n: number | string }[]) {
    if (Number(r.n) !== 0) out.get(r.job_id)![r.status] = Number(r.n);
  }
  return out;
}

export async function countItems(db: Db | Knex.Transaction, jobId: string): Promise<Record<string, number>> {
  return (await countItemsOf(db, [jobId])).get(jobId)!;
}

/** The two resellers of a job (the gaining one is null for a release), with what views and emails need. */
export async function jobParties(db: Knex, job: Pick<BulkJob, 'losing_reseller_id' | 'gaining_reseller_id'>) {
  const rows = await db('resellers')
    .whereIn(
      'id',
      [job.losing_reseller_id, job.gaining_reseller_id].filter((x): x is number => x !== null),
    )
    .select('id', 'username');
  const find = (id: number | null) => rows.find((p) => id !== null && Number(p.id) === Number(id));
  return { losing: find(job.losing_reseller_id), gaining: find(job.gaining_reseller_id) };
}

export const ITEM_CSV_COLUMNS = ['domain', 'status', 'reason', 'message', 'was_locked', 'relocked', 'finished_at'] as const;

/** What an item's view reads of its row: `finished_at` may come as ISO text already (the results CSV). */
type ItemViewRow = Pick<ItemRow, 'domain_name' | 'product' | 'status' | 'reason' | 'message' | 'was_locked' | 'relocked'> & {
  finished_at: Date | string | null;
};

export function itemView(i: ItemViewRow) {
  return {
    domain: i.domain_name,
    product: i.product ?? 'domain',
    status: i.status,
    reason: i.reason,
    message: i.message,
    was_locked: i.was_locked ?? false,
    relocked: i.relocked ?? false,
    finished_at: i.finished_at,
  };
}
