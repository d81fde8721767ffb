import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../platform/deps';
import type { JobSummary } from '../mail/templates';
import type { AttachmentRenderer, EmailDraft } from '../mail/outbox';
import type { BulkJob, ItemRow } from './model';

/**
 * Options every kind's jobs carry: where the results email goes (null: nowhere), and when the job
 * was asked to start (shown with the job; `start_at` itself is a column the scheduler reads).
 */
export const baseOptions = z.object({
  email_results_to: z.string().nullable(),
  start_after_seconds: z.number().int().min(0).default(0),
  /** `next_cycle`, the ISO time asked for, or null (at once, or after the grace window). */
  start_at_requested: z.string().nullable().default(null),
});
export type BaseOptions = z.infer<typeof baseOptions>;

/**
 * Runs in the transaction that ends a job, after its items are counted and before the results
 * email is written (a release marks the customer released and writes the claim invitation; a push
 * tells the gaining reseller).
 */
export type FinishHook = (deps: Deps, trx: Knex.Transaction, job: BulkJob, summary: JobSummary) => Promise<void>;

/**
 * What a kind checks again when a scheduled job starts (a push: both resellers still have the
 * feature, the authorization still stands). A refusal is the reason and message every item ends
 * with: what changed since the submit becomes the items' results, never a silent success.
 */
export type StartCheck = (deps: Deps, job: BulkJob) => Promise<{ reason: string; message: string } | null>;

/** Which items a sweep looks at: one chunk of one job, one job, or every job. */
export interface SweepScope {
  job_id?: string;
  chunk?: number;
}

/**
 * Work a kind owes outside its items' status, done again until it succeeds (push: relock the
 * domains it unlocked). The engine runs every kind's sweep for a chunk before taking it and after
 * failing it, and for everything on each reconcile; a job stays open while its kind's sweep `owes`.
 * Both are scoped by job id, so a sweep finds nothing owed on another kind's jobs.
 */
export interface Sweep {
  /**
   * An SQL condition that is true while the kind owes work on a job (each `?` binds the job's id):
   * the engine asks it in the same statement as its own "anything left?" probes, one round trip.
   */
  owesSql: string;
  /** Does what is owed in the scope (left by attempts that ended); throws if some is still owed. */
  run(deps: Deps, scope: SweepScope): Promise<number>;
}

/**
 * A job as its kind's handler sees it: `options` parsed by the kind's schema, once per chunk (the
 * engine does it when it takes the chunk), so the handler reads typed options and never parses.
 */
export type KindJob<O extends BaseOptions = BaseOptions> = Omit<BulkJob, 'options'> & { options: O };

/** How one kind of bulk job does its items (methods: a kind's handler of `PushOptions` is one of `BaseOptions`). */
export interface ItemHandler<O extends BaseOptions = BaseOptions> {
  /**
   * Runs in the taking transaction (job row held FOR SHARE, items locked): decides and records
   * every item it can finish there, and returns those that need steps outside a transaction.
   */
  inTake(
    deps: Deps,
    trx: Knex.Transaction,
    job: KindJob<O>,
    items: ItemRow[],
  ): Promise<{ deferred: ItemRow[]; counts: Record<string, number>; retryAt?: Date | null; deferredFields?: DeferredFields }>;
  /**
   * Finishes the returned items after the take committed; they are `running`, under a lease, with
   * the `deferredFields` inTake asked for written in the same update (one row version, not two).
   */
  deferred?(deps: Deps, job: KindJob<O>, items: ItemRow[]): Promise<Record<string, number>>;
}

/** The item columns a kind may ask to be written with its deferred items (a push: `was_locked`, `relocked`). */
type DeferredFields = Partial<Pick<ItemRow, 'was_locked' | 'relocked'>>;

/**
 * Everything the engine knows about one kind of bulk job. A kind is defined once, in its own
 * folder, and listed in the table of `shared/kinds.ts`; the engine reaches it only through the
 * table it is handed (`BulkDeps.kinds`), never by importing it.
 */
export interface BulkKindDef<O extends BaseOptions = BaseOptions> {
  /** `bulk_jobs.kind`. */
  name: string;
  /** The BullMQ job name of its chunks; kept stable, since queued chunks carry it. */
  jobName: string;
  /** The item status that means the item was done (counted, shown, emailed). */
  doneStatus: string;
  /**
   * Every reason its items can end with (code → the reason in words for people), besides the
   * engine's own (`ENGINE_REASONS`): the API's `?reason=` filter, its reference and `GET /v1/kinds`
   * read them from the table.
   */
  reasons: Readonly<Record<string, string>>;
  /**
   * `bulk_jobs.options` of its jobs, checked when a job is created and parsed once per chunk
   * attempt by the engine, which hands them to the handler typed (`KindJob<O>`).
   */
  options: z.ZodType<O, Record<string, unknown>>;
  handler: ItemHandler<O>;
  finish?: FinishHook;
  sweep?: Sweep;
  /** Where its jobs are seen in the API (`/v1/bulk-pushes`, `/v1/jobs`): the base of their links. */
  path: string;
  /** The options as the job view shows them (hide what is internal). Default: all of them. */
  publicOptions?(job: BulkJob): Record<string, unknown>;
  /** Checked again when a scheduled job starts; a refusal ends every item with its reason. */
  checkAtStart?: StartCheck;
  /** The start of the job's next cycle (a push: the gaining reseller's next billing cycle), for `start_at: "next_cycle"`. */
  nextCycle?(deps: Deps, job: Pick<BulkJob, 'gaining_reseller_id' | 'losing_reseller_id'>, now: Date): Promise<Date>;
  /** What the results email calls the job ("Bulk push to acme"). */
  resultsTitle(summary: JobSummary): string;
  /** How people see it: the console and the CLI read these from the job view. */
  labels: KindLabels;
  /**
   * Who a chunk is for, as the queue dashboard names it (after the kind, job and chunk number).
   * Default: `losing→gaining`, or the losing reseller alone when there is no gaining one.
   */
  chunkParty?(job: BulkJob, resellers: { losing: string; gaining: string | null }): string;
  /**
   * The kind's own email texts (its folder's `emails.ts`), by name: what its hooks write into the
   * outbox besides the engine's results email. Listed here so that every text a kind sends is
   * reached from its definition.
   */
  emails?: Readonly<Record<string, (...args: never[]) => EmailDraft>>;
  /**
   * Attachments its emails name to be made when they are sent (`AttachmentToRender`), by renderer
   * name: the outbox relay makes them from data that no longer changes (an ended job's items).
   */
  renderers?: Readonly<Record<string, AttachmentRenderer>>;
  /** Sets the kind's own gauges from its tables; the composition root calls it at each `/metrics` scrape. */
  readAtScrape?(deps: Deps): Promise<void>;
}

/**
 * How people see a kind. The API hands these out (the job view's `labels` and `details`), and the
 * console and the CLI show them as they come, so a new kind needs no edit there.
 */
interface KindLabels {
  /** A job of the kind, for people: "Bulk push", "Customer release". */
  noun: string;
  /** What one item is, singular and plural: "domain"/"domains", "product"/"products". */
  unit: string;
  units: string;
  /** A list row's title, seen from the side that sent the job and from the side that receives it. */
  title(parties: { losing: string | null; gaining: string | null }, side: 'sent' | 'received'): string;
  /** The job's public options in words (label and value), for the job page and `domain-push status`. */
  details(options: Record<string, unknown>): Array<{ label: string; value: string }>;
}

export type KindTable = Readonly<Record<string, BulkKindDef>>;

/** The platform's parts plus the kind table: what the engine's entry points take. */
export interface BulkDeps extends Deps {
  kinds: KindTable;
}

/**
 * Builds the table and checks it, so a half-defined kind stops the process at start rather than
 * a job at run time: every part present, names and BullMQ job names unique.
 */
export function kindTable(defs: BulkKindDef[]): KindTable {
  const table: Record<string, BulkKindDef> = {};
  const jobNames = new Set<string>();
  for (const def of defs) {
    for (const part of ['name', 'jobName', 'doneStatus', 'reasons', 'options', 'handler', 'path', 'resultsTitle', 'labels'] as const) {
      if (!def[part]) throw new Error(`bulk kind ${def.name ?? '?'} has no ${part}`);
    }
    if (typeof def.handler.inTake !== 'function') throw new Error(`bulk kind ${def.name} has no item handler (inTake)`);
    if (table[def.name]) throw new Error(`bulk kind ${def.name} is defined twice`);
    if (jobNames.has(def.jobName)) throw new Error(`BullMQ job name ${def.jobName} is used by two bulk kinds`);
    table[def.name] = def;
    jobNames.add(def.jobName);
  }
  return Object.freeze(table);
}

export function kindOf(kinds: KindTable, name: string): BulkKindDef {
  const def = kinds[name];
  if (!def) throw new Error(`unknown bulk job kind ${name}`);
  return def;
}

/** Item statuses a filter may name: the engine's own plus every kind's done status. */
export function itemStatuses(kinds: KindTable): string[] {
  return ['pending', 'running', ...doneStatuses(kinds), 'skipped', 'failed', 'cancelled'];
}

/** Every kind's done status, in table order. */
export function doneStatuses(kinds: KindTable): string[] {
  return [...new Set(Object.values(kinds).map((k) => k.doneStatus))];
}

/** Reasons the engine itself ends items with, whatever their kind, in words for people. */
export const ENGINE_REASONS: Readonly<Record<string, string>> = {
  error: 'Registry or system error',
  cancelled: 'Cancelled',
  suspend_expired: 'Suspended too long',
};

/** Item reasons a filter may name: the engine's own plus every kind's, each once. */
export function itemReasons(kinds: KindTable): string[] {
  return [...new Set([...Object.keys(ENGINE_REASONS), ...Object.values(kinds).flatMap((k) => Object.keys(k.reasons))])];
}

/** The dashboard's order of counts: done statuses first, then the engine's ends, then what is open. */
export function countOrder(kinds: KindTable | string[]): string[] {
  const done = Array.isArray(kinds) ? kinds : doneStatuses(kinds);
  return [...done, 'skipped', 'failed', 'cancelled', 'pending', 'running'];
}
