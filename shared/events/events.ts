import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * The event types a reseller's webhook endpoints can take (docs/webhooks.md). Both sides of a push
 * get their own events: `domain.pushed_out` to the losing reseller, `domain.pushed_in` to the gaining one.
 */
export const EVENT_TYPES = [
  'bulk_job.scheduled',
  'bulk_job.started',
  'bulk_job.finished',
  'domain.pushed_in',
  'domain.pushed_out',
  'push_authorization.changed',
  'customer.released',
  'api_key.created',
  'api_key.revoked',
] as const;
type EventType = (typeof EVENT_TYPES)[number];

/** One event for one reseller; `jobId` orders it behind that job's earlier events at each endpoint. */
export interface NewEvent {
  resellerId: number | string;
  type: EventType;
  jobId?: number | string | null;
  data: Record<string, unknown>;
  /** Fields of `data` that name a reseller: given its id here, written as its username (read in the same statement). */
  usernames?: Record<string, number | string | null>;
}

/** Domain names per `domain.pushed_*` event: a chunk larger than this is told in several events (bounded bodies). */
const DOMAINS_PER_EVENT = 1000;

/** An event's public id (`Webhook-Id`, and `id` in its body): stable across every retry and redelivery. */
const newEventId = () => `evt_${randomUUID().replace(/-/g, '')}`;

/**
 * Writes events in the caller's transaction — the one that makes the change they tell of — and,
 * in the same statement, one pending delivery per enabled endpoint of the event's reseller that
 * takes its type (an event no endpoint takes is not stored). Nothing is sent here: the webhook
 * relay of each worker sends. One statement per call, whatever the number of events (two when they
 * are big: `takenOnly` asks first); reseller ids in `usernames` become usernames in it.
 */
export async function recordEvents(trx: Knex | Knex.Transaction, all: NewEvent[]): Promise<string[]> {
  if (all.length === 0) return [];
  const ids = all.map(() => newEventId());
  const data = all.map((e) => JSON.stringify(e.data));
  const taken = await takenOnly(trx, all, data);
  if (taken.length === 0) return ids;
  const events = taken.map((i) => all[i]);
  const usernames = (e: NewEvent) =>
    JSON.stringify(
      Object.fromEntries(
        Object.entries(e.usernames ?? {})
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k, v]) => [k, String(v)]),
      ),
    );
  await trx.raw(
    `with e as (
       insert into events (id, reseller_id, type, job_id, data)
       select v.id, v.reseller_id, v.type, v.job_id,
              v.data || coalesce((select jsonb_object_agg(k.key, r.username) from jsonb_each_text(v.names) k
                                  join resellers r on r.id = k.value::bigint), '{}'::jsonb)
       from unnest(?::text[], ?::bigint[], ?::text[], ?::uuid[], ?::jsonb[], ?::jsonb[]) as v(id, reseller_id, type, job_id, data, names)
       -- Kept only when some endpoint takes it: a reseller without webhooks stores nothing.
       where exists (select 1 from webhook_endpoints w where w.reseller_id = v.reseller_id and w.enabled and v.type = any(w.event_types))
       returning id, seq, reseller_id, type, job_id
     )
     insert into webhook_deliveries (endpoint_id, event_id, event_seq, job_id)
     select w.id, e.id, e.seq, e.job_id from e join webhook_endpoints w
       on w.reseller_id = e.reseller_id and w.enabled and e.type = any(w.event_types)`,
    [
      taken.map((i) => ids[i]),
      events.map((e) => String(e.resellerId)),
      events.map((e) => e.type),
      events.map((e) => (e.jobId === undefined || e.jobId === null ? null : String(e.jobId))) as string[],
      taken.map((i) => data[i]),
      events.map(usernames),
    ],
  );
  return ids;
}

/** Events bigger than this together are first checked for an endpoint that takes them (one small statement). */
const CHECK_TAKERS_ABOVE_BYTES = 4096;

/**
 * The indexes of the events some enabled endpoint takes, when they are big enough to be worth
 * asking first: a chunk's `domain.pushed_*` pair carries its 1,000 names twice (75 KB) and most
 * resellers have no endpoint, so sending them only for the insert to drop them cost the worker a
 * loopback write and Postgres a parse per chunk. Small events go straight to the insert, which
 * drops the ones nobody takes anyway. Asked in the caller's transaction, as the insert would see it.
 */
async function takenOnly(trx: Knex | Knex.Transaction, events: NewEvent[], data: string[]): Promise<number[]> {
  const all = events.map((_, i) => i);
  if (data.reduce((n, d) => n + d.length, 0) <= CHECK_TAKERS_ABOVE_BYTES) return all;
  const { rows } = await trx.raw(
    `select distinct v.reseller_id::text as reseller_id, v.type from unnest(?::bigint[], ?::text[]) as v(reseller_id, type)
     where exists (select 1 from webhook_endpoints w where w.reseller_id = v.reseller_id and w.enabled and v.type = any(w.event_types))`,
    [events.map((e) => String(e.resellerId)), events.map((e) => e.type)],
  );
  const wanted = new Set((rows as { reseller_id: string; type: string }[]).map((r) => `${r.reseller_id}:${r.type}`));
  return all.filter((i) => wanted.has(`${events[i].resellerId}:${events[i].type}`));
}

/**
 * The two sides of domains moved by one chunk of a push: `domain.pushed_out` for the losing
 * reseller, `domain.pushed_in` for the gaining one, each naming the other side, DOMAINS_PER_EVENT
 * names at most per event. Call it in the transaction that moves them, with the moved names: one
 * statement, whatever the number of names.
 */
export async function recordPushedDomains(
  trx: Knex | Knex.Transaction,
  job: { id: number | string; losing_reseller_id: number | string | null; gaining_reseller_id: number | string | null },
  domains: string[],
): Promise<void> {
  if (domains.length === 0 || job.losing_reseller_id === null || job.gaining_reseller_id === null) return;
  const events: NewEvent[] = [];
  for (let i = 0; i < domains.length; i += DOMAINS_PER_EVENT) {
    const part = domains.slice(i, i + DOMAINS_PER_EVENT);
    const data = { job_id: String(job.id), count: part.length, domains: part };
    events.push(
      {
        resellerId: job.losing_reseller_id,
        type: 'domain.pushed_out',
        jobId: job.id,
        data,
        usernames: { to_reseller: job.gaining_reseller_id },
      },
      {
        resellerId: job.gaining_reseller_id,
        type: 'domain.pushed_in',
        jobId: job.id,
        data,
        usernames: { from_reseller: job.losing_reseller_id },
      },
    );
  }
  await recordEvents(trx, events);
}

/** What a `bulk_job.*` event needs of a job row. */
interface JobForEvent {
  id: number | string;
  kind: string;
  status: string;
  total?: number | null;
  start_at?: Date | string | null;
  losing_reseller_id: number | string | null;
  gaining_reseller_id: number | string | null;
}

/**
 * A `bulk_job.*` event for each party of the job (the losing reseller, and the gaining one of a
 * push), naming both by username; `extra` adds the outcome and counts of `bulk_job.finished`.
 */
export async function recordJobEvent(
  trx: Knex | Knex.Transaction,
  type: 'bulk_job.scheduled' | 'bulk_job.started' | 'bulk_job.finished',
  job: JobForEvent,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const parties = [...new Set([job.losing_reseller_id, job.gaining_reseller_id].filter((p) => p !== null).map(String))];
  const data = {
    job_id: String(job.id),
    kind: job.kind,
    status: job.status,
    total: job.total ?? null,
    start_at: job.start_at ? new Date(job.start_at).toISOString() : null,
    losing_reseller: null,
    gaining_reseller: null,
    ...extra,
  };
  const usernames = { losing_reseller: job.losing_reseller_id, gaining_reseller: job.gaining_reseller_id };
  await recordEvents(
    trx,
    parties.map((resellerId) => ({ resellerId, type, jobId: job.id, data, usernames })),
  );
}
