import type { Knex } from 'knex';
import type { Db } from '../platform/db';
import { NotFound } from '../platform/errors';
import type { BulkKind } from '../platform/queues';

export type JobStatus = 'queued' | 'running' | 'suspended' | 'cancelling' | 'completed' | 'cancelled' | 'failed';
export type ItemStatus = 'pending' | 'running' | 'pushed' | 'released' | 'skipped' | 'failed' | 'cancelled';

export const FINISHED_JOB: readonly JobStatus[] = ['completed', 'cancelled', 'failed'];
export const OPEN_ITEM: readonly ItemStatus[] = ['pending', 'running'];

/** Rows whose lease is free: never taken, released, or run out (its worker died). */
export function leaseFree(q: Knex.QueryBuilder, db: Knex): Knex.QueryBuilder {
  return q.where((l) => l.whereNull('lease_until').orWhere('lease_until', '<', db.fn.now()));
}

/** The item status that means "done" for each kind of bulk job. */
export const DONE_STATUS: Record<BulkKind, ItemStatus> = { push: 'pushed', release: 'released' };

export interface BulkJob {
  id: string;
  seq: number;
  kind: BulkKind;
  status: JobStatus;
  losing_reseller_id: number;
  gaining_reseller_id: number | null;
  // biome-ignore lint/suspicious/noExplicitAny: typed with the bulk-kind table of the engine refactor (issue 8 items 1 and 4)
  options: Record<string, any>;
  total: number;
  chunk_count: number;
  generation: number;
  idempotency_key: string | null;
  request_hash: string | null;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  suspended_at: Date | null;
  cancel_requested_at: Date | null;
  finished_at: Date | null;
}

export interface ItemRow {
  id: number;
  job_id: string;
  chunk: number;
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
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function loadJob(db: Db | Knex.Transaction, id: string, forUpdate = false): Promise<BulkJob | undefined> {
  if (!UUID.test(id)) return undefined;
  const q = db('bulk_jobs').where({ id }).first();
  return forUpdate ? q.forUpdate() : q;
}

/** Who may look at a job: its submitter, and (read-only) the gaining reseller. Anyone else gets 404. */
export type Access = 'view' | 'control';

export async function jobFor(
  db: Db | Knex.Transaction,
  resellerId: number,
  id: string,
  access: Access,
  opts: { kind?: BulkKind; forUpdate?: boolean } = {},
): Promise<BulkJob> {
  const job = await loadJob(db, id, opts.forUpdate);
  const visible =
    job &&
    (!opts.kind || job.kind === opts.kind) &&
    (job.losing_reseller_id === resellerId || (access === 'view' && job.gaining_reseller_id === resellerId));
  if (!visible) throw new NotFound('No such job.');
  return job;
}

export async function countItems(db: Db | Knex.Transaction, jobId: string): Promise<Record<string, number>> {
  const rows = await db('bulk_job_items').where({ job_id: jobId }).groupBy('status').select('status').count('* as n');
  const out: Record<string, number> = {};
  // biome-ignore lint/suspicious/noExplicitAny: typed with the bulk-kind table of the engine refactor (issue 8 items 1 and 4)
  for (const r of rows as any[]) out[r.status] = Number(r.n);
  return out;
}

/** The two resellers of a job (the gaining one is null for a release), with what views and emails need. */
export async function jobParties(db: Knex, job: Pick<BulkJob, 'losing_reseller_id' | 'gaining_reseller_id'>) {
  const rows = await db('resellers')
    .whereIn(
      'id',
      [job.losing_reseller_id, job.gaining_reseller_id].filter((x): x is number => x !== null),
    )
    .select('id', 'username', 'push_notification_email');
  const find = (id: number | null) => rows.find((p) => id !== null && Number(p.id) === Number(id));
  return { losing: find(job.losing_reseller_id), gaining: find(job.gaining_reseller_id) };
}

export const ITEM_CSV_COLUMNS = ['domain', 'status', 'reason', 'message', 'was_locked', 'relocked', 'finished_at'] as const;

export function itemView(i: ItemRow) {
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
