import { z } from 'zod';
import { EVENT_TYPES } from '../../shared/events/events';
import {
  createEndpoint,
  createEndpointInput,
  deleteEndpoint,
  deliveriesQuery,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  MAX_ENDPOINTS,
  redeliver,
  updateEndpoint,
  updateEndpointInput,
} from '../../shared/webhooks/endpoints';
import { listQuery } from '../../shared/platform/validation';
import { me } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param, type Routes, send } from './route';

const ts = z.string().meta({ format: 'date-time', description: 'ISO 8601 timestamp (UTC)' });

const WebhookEndpoint = z
  .strictObject({
    id: z.string().describe('opaque id'),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.enum(EVENT_TYPES)),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().describe('why it was disabled: by the reseller, or failing for WEBHOOK_DISABLE_AFTER_MS'),
    disabled_at: ts.nullable(),
    failing_since: ts.nullable().describe('first failure of the current run of failures; null once a delivery succeeds'),
    secret_prefix: z.string().describe('the first characters of the signing secret, to recognise it'),
    created_at: ts,
    updated_at: ts,
  })
  .meta({ id: 'WebhookEndpoint' });

const WebhookEndpointCreated = WebhookEndpoint.extend({
  secret: z.string().describe('the signing secret (whsec_…): shown in this answer only'),
}).meta({ id: 'WebhookEndpointCreated' });

const WebhookDelivery = z
  .strictObject({
    id: z.string(),
    event_id: z.string().describe('the event id (evt_…), sent as Webhook-Id and in the body: the same on every retry'),
    event_type: z.enum(EVENT_TYPES),
    job_id: z.string().nullable(),
    status: z.enum(['pending', 'delivered', 'failed']).describe('failed: given up (tries exhausted, or the endpoint disabled)'),
    attempts: z.number().int(),
    response_status: z.number().int().nullable().describe('HTTP status of the last try; null when no answer (timeout, refused address)'),
    duration_ms: z.number().int().nullable(),
    last_error: z.string().nullable(),
    last_attempt_at: ts.nullable(),
    next_attempt_at: ts.nullable().describe('when a pending delivery is tried next; null otherwise'),
    delivered_at: ts.nullable(),
    created_at: ts,
  })
  .meta({ id: 'WebhookDelivery' });

const TAG = 'Webhooks';

/** A reseller's webhook endpoints (docs/webhooks.md): the secret is shown once, in the 201 of its creation. */
export const webhooks: Routes = {
  'GET /v1/webhooks': {
    handle: ({ db }) => send(async (req, res) => [200, await listEndpoints(db, me(res).id, req.query)]),
    summary: 'Your webhook endpoints (never their secrets)',
    tag: TAG,
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of endpoints, oldest first', R.page(WebhookEndpoint)) },
  },
  'POST /v1/webhooks': {
    handle: ({ deps }) => send(async (req, res) => [201, await createEndpoint(deps, me(res).id, req.body)]),
    audit: { action: 'webhook.create', target: 'webhook' },
    summary: 'Add a webhook endpoint; the answer is the only time its signing secret is shown',
    description: `https only (http to a loopback host in development); never a private, loopback or link-local address (400 \`insecure_url\`, \`private_address\`, \`invalid_url\`). At most ${MAX_ENDPOINTS} endpoints per reseller (409 \`too_many_webhooks\`). Event types: ${EVENT_TYPES.join(', ')}.`,
    tag: TAG,
    auth: 'reseller',
    body: createEndpointInput,
    replies: { 201: json('the endpoint and its secret, shown once', WebhookEndpointCreated) },
    errors: { 400: ['invalid_url', 'insecure_url', 'private_address'], 409: ['too_many_webhooks'], 503: ['webhooks_not_configured'] },
  },
  'GET /v1/webhooks/:id': {
    handle: ({ db }) => send(async (req, res) => [200, await getEndpoint(db, me(res).id, param(req, 'id'))]),
    summary: 'One webhook endpoint',
    tag: TAG,
    auth: 'reseller',
    replies: { 200: json('the endpoint', WebhookEndpoint) },
    errors: { 404: ['unknown_webhook'] },
  },
  'PATCH /v1/webhooks/:id': {
    handle: ({ deps }) => send(async (req, res) => [200, await updateEndpoint(deps, me(res).id, param(req, 'id'), req.body)]),
    audit: { action: 'webhook.update', target: 'webhook', details: (req) => fieldsOf(req.body) },
    summary: 'Change an endpoint: url, event_types, description, enabled (enable, disable)',
    description: 'Disabling gives up its pending deliveries; enabling starts its failure count again.',
    tag: TAG,
    auth: 'reseller',
    body: updateEndpointInput,
    replies: { 200: json('the endpoint', WebhookEndpoint) },
    errors: { 400: ['invalid_url', 'insecure_url', 'private_address'], 404: ['unknown_webhook'] },
  },
  'DELETE /v1/webhooks/:id': {
    handle: ({ db }) =>
      send(async (req, res) => {
        await deleteEndpoint(db, me(res).id, param(req, 'id'));
        return [204, null];
      }),
    audit: { action: 'webhook.delete', target: 'webhook' },
    summary: 'Delete an endpoint and its delivery log',
    tag: TAG,
    auth: 'reseller',
    replies: { 204: { description: 'deleted' } },
    errors: { 404: ['unknown_webhook'] },
  },
  'GET /v1/webhooks/:id/deliveries': {
    handle: ({ db }) => send(async (req, res) => [200, await listDeliveries(db, me(res).id, param(req, 'id'), req.query)]),
    summary: "An endpoint's delivery log, newest first: status, response code, duration, attempts, next retry",
    tag: TAG,
    auth: 'reseller',
    query: deliveriesQuery,
    replies: { 200: json('a page of deliveries, newest first', R.page(WebhookDelivery)) },
    errors: { 404: ['unknown_webhook'] },
  },
  'POST /v1/webhooks/:id/deliveries/:delivery_id/redeliver': {
    handle: ({ db }) => send(async (req, res) => [202, await redeliver(db, me(res).id, param(req, 'id'), param(req, 'delivery_id'))]),
    audit: { action: 'webhook.redeliver', target: 'webhook_delivery', targetId: (req) => String(req.params.delivery_id) },
    summary: 'Send a delivery again (same event id), as soon as a worker can',
    tag: TAG,
    auth: 'reseller',
    replies: { 202: json('the delivery, pending again', WebhookDelivery) },
    errors: { 404: ['unknown_webhook', 'unknown_delivery'], 409: ['webhook_disabled'] },
  },
};

/** Safe values of an update for the audit trail: which event types, enabled; never a secret (there is none in it). */
function fieldsOf(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object') return {};
  const b = body as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries({ enabled: b.enabled, event_types: b.event_types, url: b.url }).filter(([, v]) => v !== undefined),
  );
}
