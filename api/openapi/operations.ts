import { z } from 'zod';
import { ROUTE_TABLES } from '../routes';
import { operationsOf } from '../routes/route';
import { json, type Operation } from './operation';
import * as R from './responses';

/**
 * Every route of the route table, keyed `METHOD /express/path`, read from the resource modules
 * of api/routes/ (each operation sits there beside its route's handler). The document is built by
 * walking the route table and looking each route up here; a route registered outside those
 * tables still appears (marked undocumented) and fails test/e2e/openapi.test.ts.
 */
export const OPERATIONS: Record<string, Operation> = operationsOf(ROUTE_TABLES);

/** Tags in reading order, with what each groups. */
export const TAGS: Record<string, string> = {
  'Bulk pushes': 'Move to another reseller: submit, watch, cancel, suspend, resume, read per-domain results.',
  'Bulk jobs': 'The same views for every kind of bulk job (push and release).',
  'Push settings': 'Who may push to you (allowed resellers) and where to notify you.',
  Domains: 'Your domains and their registrant contact.',
  Profiles: 'Registrant profiles (user accounts).',
  Brands: 'Brands; a copy made by a push is unlabelled and read-only.',
  Customers: 'Customers of a reseller, service packages, release.',
  Claims: "A released customer's single-use claim link.",
  Account: 'The calling reseller.',
  Operator: 'Platform operator: resellers, domain import, the outbox.',
  Operations: 'Health, readiness, metrics, this document.',
  Undocumented: 'Routes registered outside the tables of api/routes/ (a test fails while any is listed).',
};

/** Routes served outside the route table (api/app.ts and api/docs.ts). */
export const EXTRA_OPERATIONS: Record<string, Operation> = {
  'GET /': {
    summary: 'Where to go: links to the console, docs, dashboard, mailbox and health',
    tag: 'Operations',
    auth: 'none',
    replies: { 200: { description: 'links (JSON), or a page of them for a browser (HTML)', schema: R.Index, media: ['text/html'] } },
  },
  'GET /healthz': { summary: 'Liveness', tag: 'Operations', auth: 'none', replies: { 200: json('alive', R.Health) } },
  'GET /readyz': {
    summary: 'Readiness: Postgres, Redis and its maxmemory-policy',
    description:
      'Also the email outbox (informational). Its `last_error.error` is a class (`recipient_rejected`, `sender_rejected`, `auth`, `timeout`, `tls`, `connection`, `rejected`, `unknown`), never the text of the SMTP peer (it names recipients): that is in the signed-in mailbox.',
    tag: 'Operations',
    auth: 'none',
    replies: { 200: json('ready', R.Ready), 503: json('a check failed; `checks` says which', R.Ready) },
  },
  'GET /metrics': {
    summary: 'Prometheus metrics (text exposition format)',
    description:
      'Bearer METRICS_TOKEN only (what Prometheus is given; the operator key is refused 401). Wrong or missing tokens are counted and logged per address like every credential (429 `too_many_attempts` once blocked). With METRICS_TOKEN unset, 403 `metrics_disabled`.',
    tag: 'Operations',
    auth: 'operator',
    replies: { 200: { description: 'Prometheus text format', media: ['text/plain'] } },
    errors: { 403: ['metrics_disabled'] },
  },
  'GET /v1/openapi.json': {
    summary: 'This document (OpenAPI 3.1)',
    tag: 'Operations',
    auth: 'none',
    replies: { 200: { description: 'the OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
  },
};
