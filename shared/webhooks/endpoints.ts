import type { Knex } from 'knex';
import { z } from 'zod';
import { EVENT_TYPES } from '../events/events';
import type { Config } from '../platform/config';
import type { Db } from '../platform/db';
import { Conflict, NotFound } from '../platform/errors';
import { decodeCursor, isDbId, listQuery, pageOf, parseInput, plainName } from '../platform/validation';
import { checkEndpointUrl } from './address-guard';
import { assertSealable, newWebhookSecret, sealSecret } from './secret-box';

/** Endpoints one reseller may hold. */
export const MAX_ENDPOINTS = 10;

const eventTypes = z
  .array(z.enum(EVENT_TYPES))
  .min(1)
  .max(EVENT_TYPES.length)
  .refine((a) => new Set(a).size === a.length, 'each event type at most once')
  .describe(`the events sent to this endpoint: ${EVENT_TYPES.join(', ')}`);

export const createEndpointInput = z.strictObject({
  url: z.string().min(1).max(2000).describe('https URL the events are POSTed to (http only to a loopback host in development)'),
  event_types: eventTypes,
  enabled: z.boolean().optional().describe('default true'),
  description: plainName(200).nullable().optional(),
});

export const updateEndpointInput = z
  .strictObject({
    url: z.string().min(1).max(2000).optional(),
    event_types: eventTypes.optional(),
    enabled: z.boolean().optional().describe('true re-enables a disabled endpoint (its failure count starts again)'),
    description: plainName(200).nullable().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'give at least one of url, event_types, enabled, description');

export const deliveriesQuery = listQuery.extend({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
});

interface EndpointRow {
  id: string | number;
  reseller_id: string | number;
  url: string;
  description: string | null;
  secret_box: string;
  secret_prefix: string;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

function endpointView(r: EndpointRow) {
  return {
    id: String(r.id),
    url: r.url,
    description: r.description,
    event_types: r.event_types,
    enabled: r.enabled,
    disabled_reason: r.disabled_reason,
    disabled_at: r.disabled_at,
    failing_since: r.failing_since,
    secret_prefix: r.secret_prefix,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

const idOf = (id: string) => (isDbId(id) ? Number(id) : undefined);

async function ownEndpoint(db: Db | Knex.Transaction, resellerId: number, id: string, lock = false): Promise<EndpointRow> {
  const n = idOf(id);
  const row: EndpointRow | undefined =
    n === undefined
      ? undefined
      : await db('webhook_endpoints')
          .where({ id: n, reseller_id: resellerId })
          .modify((b) => (lock ? b.forUpdate() : b))
          .first();
  if (!row) throw new NotFound('No such webhook endpoint.', 'unknown_webhook');
  return row;
}

/** A new endpoint, answered once with its signing secret (`secret`); 409 `too_many_webhooks` past MAX_ENDPOINTS. */
export async function createEndpoint(deps: { db: Db; config: Config }, resellerId: number, input: unknown) {
  const v = parseInput(createEndpointInput, input);
  const url = checkEndpointUrl(deps.config, v.url);
  assertSealable(deps.config);
  const secret = newWebhookSecret();
  return deps.db.transaction(async (trx) => {
    await trx('resellers').where({ id: resellerId }).forUpdate().first('id');
    const [{ n }] = await trx('webhook_endpoints').where({ reseller_id: resellerId }).count({ n: '*' });
    if (Number(n) >= MAX_ENDPOINTS)
      throw new Conflict('too_many_webhooks', `A reseller holds at most ${MAX_ENDPOINTS} webhook endpoints; delete one first.`);
    const [row] = await trx('webhook_endpoints')
      .insert({
        reseller_id: resellerId,
        url,
        description: v.description ?? null,
        secret_box: sealSecret(deps.config, secret),
        secret_prefix: secret.slice(0, 12),
        event_types: v.event_types,
        enabled: v.enabled ?? true,
      })
      .returning('*');
    return { ...endpointView(row), secret };
  });
}

export async function listEndpoints(db: Db, resellerId: number, query: unknown = {}) {
  const q = parseInput(listQuery, query, 'query');
  const after = decodeCursor(q.cursor);
  const rows: EndpointRow[] = await db('webhook_endpoints')
    .where({ reseller_id: resellerId })
    .modify((b) => (after && isDbId(after) ? b.where('id', '>', after) : b))
    .orderBy('id')
    .limit(q.limit + 1);
  return pageOf(rows, q.limit, (r) => r.id, endpointView);
}

export async function getEndpoint(db: Db, resellerId: number, id: string) {
  return endpointView(await ownEndpoint(db, resellerId, id));
}

/**
 * Changes url, event types, description or enabled. Enabling clears the disable and the failure
 * run; disabling gives up the endpoint's pending deliveries (status `failed`, "endpoint disabled").
 */
export async function updateEndpoint(deps: { db: Db; config: Config }, resellerId: number, id: string, input: unknown) {
  const v = parseInput(updateEndpointInput, input);
  const url = v.url === undefined ? undefined : checkEndpointUrl(deps.config, v.url);
  return deps.db.transaction(async (trx) => {
    const row = await ownEndpoint(trx, resellerId, id, true);
    const patch: Record<string, unknown> = { updated_at: trx.fn.now() };
    if (url !== undefined) patch.url = url;
    if (v.event_types) patch.event_types = v.event_types;
    if (v.description !== undefined) patch.description = v.description;
    if (v.enabled === true && !row.enabled)
      Object.assign(patch, { enabled: true, disabled_reason: null, disabled_at: null, failing_since: null });
    if (v.enabled === false && row.enabled) {
      Object.assign(patch, { enabled: false, disabled_reason: 'disabled by the reseller', disabled_at: trx.fn.now() });
      await giveUpPending(trx, row.id, 'endpoint disabled');
    }
    const [updated] = await trx('webhook_endpoints').where({ id: row.id }).update(patch).returning('*');
    return endpointView(updated);
  });
}

export async function giveUpPending(trx: Knex | Knex.Transaction, endpointId: string | number, why: string) {
  await trx('webhook_deliveries').where({ endpoint_id: endpointId, status: 'pending' }).update({ status: 'failed', last_error: why });
}

/** Deletes the endpoint and its delivery log (its events stay). */
export async function deleteEndpoint(db: Db, resellerId: number, id: string): Promise<void> {
  await db.transaction(async (trx) => {
    const row = await ownEndpoint(trx, resellerId, id, true);
    await trx('webhook_deliveries').where({ endpoint_id: row.id }).del();
    await trx('webhook_endpoints').where({ id: row.id }).del();
  });
}

interface DeliveryRow {
  id: string | number;
  event_id: string;
  type: string;
  job_id: string | number | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  response_status: number | null;
  duration_ms: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  next_attempt_at: Date;
  delivered_at: Date | null;
  created_at: Date;
}

function deliveryView(r: DeliveryRow) {
  return {
    id: String(r.id),
    event_id: r.event_id,
    event_type: r.type,
    job_id: r.job_id === null ? null : String(r.job_id),
    status: r.status,
    attempts: r.attempts,
    response_status: r.response_status,
    duration_ms: r.duration_ms,
    last_error: r.last_error,
    last_attempt_at: r.last_attempt_at,
    next_attempt_at: r.status === 'pending' ? r.next_attempt_at : null,
    delivered_at: r.delivered_at,
    created_at: r.created_at,
  };
}

const deliveryColumns = [
  'd.id',
  'd.event_id',
  'e.type',
  'd.job_id',
  'd.status',
  'd.attempts',
  'd.response_status',
  'd.duration_ms',
  'd.last_error',
  'd.last_attempt_at',
  'd.next_attempt_at',
  'd.delivered_at',
  'd.created_at',
];

/** The endpoint's delivery log, newest first. */
export async function listDeliveries(db: Db, resellerId: number, id: string, query: unknown = {}) {
  const q = parseInput(deliveriesQuery, query, 'query');
  const endpoint = await ownEndpoint(db, resellerId, id);
  const before = decodeCursor(q.cursor);
  const rows: DeliveryRow[] = await db('webhook_deliveries as d')
    .join('events as e', 'e.id', 'd.event_id')
    .where('d.endpoint_id', endpoint.id)
    .modify((b) => (q.status ? b.where('d.status', q.status) : b))
    .modify((b) => (before && isDbId(before) ? b.where('d.id', '<', before) : b))
    .orderBy('d.id', 'desc')
    .limit(q.limit + 1)
    .select(deliveryColumns);
  return pageOf(rows, q.limit, (r) => r.id, deliveryView);
}

/**
 * Sends a delivery again, as soon as a relay can: a delivered or given-up one goes back to
 * `pending` (same event id, so a receiver that has it drops it); a pending one becomes due now.
 * 409 `webhook_disabled` while the endpoint is disabled.
 */
export async function redeliver(db: Db, resellerId: number, id: string, deliveryId: string) {
  return db.transaction(async (trx) => {
    const endpoint = await ownEndpoint(trx, resellerId, id, true);
    const n = idOf(deliveryId);
    const found = n === undefined ? undefined : await trx('webhook_deliveries').where({ id: n, endpoint_id: endpoint.id }).first('id');
    if (!found) throw new NotFound('No such delivery of this endpoint.', 'unknown_delivery');
    if (!endpoint.enabled) throw new Conflict('webhook_disabled', 'This endpoint is disabled: enable it first (PATCH enabled: true).');
    await trx('webhook_deliveries')
      .where({ id: n })
      .update({ status: 'pending', next_attempt_at: trx.raw('clock_timestamp()'), attempts: 0, last_error: null });
    const [row] = await trx('webhook_deliveries as d').join('events as e', 'e.id', 'd.event_id').where('d.id', n).select(deliveryColumns);
    return deliveryView(row);
  });
}
