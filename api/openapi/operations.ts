import { z } from 'zod';
import { allowResellerInput, notificationEmailInput } from '../../shared/accounts/push-settings';
import { createResellerInput, updateResellerInput } from '../../shared/accounts/resellers';
import { createApiKeyInput, MAX_LIVE_KEYS } from '../../shared/accounts/api-keys';
import { createSessionInput } from '../../shared/accounts/sessions';
import { itemsQuery } from '../../shared/bulk/views';
import { rescheduleInput } from '../../shared/bulk/schedule';
import { KINDS } from '../../shared/kinds';
import { createBrandInput, updateBrandInput } from '../../shared/catalog/brands';
import { domainListQuery, importDomainsInput } from '../../shared/catalog/domains';
import { contactSchema, createProfileInput } from '../../shared/catalog/profiles';
import {
  addPackageDomainInput,
  claimInput,
  createCustomerInput,
  createPackageInput,
  customerListQuery,
  releaseCustomerInput,
  updateCustomerInput,
} from '../../shared/customers/customers';
import { listQuery } from '../../shared/platform/validation';
import { submitPushInput } from '../../shared/push/submit';
import { json, type Operation } from './operation';
import * as R from './responses';

export type { Auth, Operation, Reply } from './operation';

/** The views every bulk job has, under /v1/bulk-pushes (push only) and /v1/jobs (every kind). */
function jobOperations(base: string, what: string, one: string, tag: string): Record<string, Operation> {
  const id = `${base}/:id`;
  return {
    [`GET ${base}`]: {
      summary: `List ${what} you submitted or received, newest first`,
      tag,
      auth: 'reseller',
      query: listQuery,
      replies: { 200: json('a page of jobs', R.page(R.Job)) },
    },
    [`GET ${id}`]: {
      summary: `One ${one}: status, counts, rate, eta_seconds, options, timestamps`,
      tag,
      auth: 'reseller',
      replies: { 200: json('the job', R.Job) },
    },
    [`GET ${id}/items`]: {
      summary: 'Per-item results, cursor-paginated; `Accept: text/csv` streams every item as CSV',
      tag,
      auth: 'reseller',
      query: itemsQuery(KINDS),
      replies: { 200: { description: 'a page of items (JSON) or every item (CSV)', schema: R.page(R.Item), media: ['text/csv'] } },
    },
    [`POST ${id}/cancel`]: {
      summary: 'Cancel: no item starts after this answer; items not started end cancelled',
      tag,
      auth: 'reseller',
      replies: { 202: json('`cancelled`, or `cancelling` until items in hand finish', R.ControlAnswer) },
      errors: { 409: ['job_finished'] },
    },
    [`POST ${id}/suspend`]: {
      summary: 'Suspend: no item starts until resumed; items in hand finish',
      tag,
      auth: 'reseller',
      replies: { 202: json('suspended', R.ControlAnswer) },
      errors: { 409: ['invalid_state'] },
    },
    [`POST ${id}/resume`]: {
      summary: 'Resume a suspended job where it stopped',
      tag,
      auth: 'reseller',
      replies: { 202: json('running or queued again', R.ControlAnswer) },
      errors: { 409: ['invalid_state'], 503: ['queue_unavailable'] },
    },
    [`POST ${id}/reschedule`]: {
      summary: 'Reschedule a job that has not started: `{"start_at": ISO | "next_cycle" | "now"}` or `{"start_after_seconds": n}`',
      tag,
      auth: 'reseller',
      body: rescheduleInput,
      bodyRequired: true,
      replies: { 200: json('the job with its new start_at', R.Job) },
      errors: { 409: ['invalid_state'] },
    },
    [`GET ${id}/events`]: {
      summary: 'Server-Sent Events: `progress` (the job) when it changes, then `end` with the final state or on suspend',
      description:
        'At most SSE_MAX_STREAMS_PER_KEY streams per API key, counting every console session of the key (429 `too_many_streams`); a stream lasts SSE_MAX_STREAM_SECONDS, starts with `retry:`, and each event has an `id:` a reconnect sends back as `Last-Event-ID`. The credential is checked again every SSE_AUTH_RECHECK_MS: after sign-out, session expiry or key revocation the stream sends a last `end` with the job still open and closes (a reconnect answers 401).',
      tag,
      auth: 'reseller',
      replies: { 200: { description: 'text/event-stream; each `data:` is a Job', media: ['text/event-stream'] } },
      errors: { 429: ['too_many_streams'] },
    },
  };
}

/**
 * Every route of api/routes.ts, keyed `METHOD /express/path`. The document is built by walking
 * the route table and looking each route up here; a route missing here still appears (marked
 * undocumented) and fails test/e2e/openapi.test.ts, so a new route cannot ship undocumented.
 */
export const OPERATIONS: Record<string, Operation> = {
  'POST /v1/admin/resellers': {
    summary: 'Create a reseller (push is off until enabled)',
    tag: 'Operator',
    auth: 'operator',
    body: createResellerInput,
    replies: { 201: json('the reseller, with its API key shown once', R.ResellerCreated) },
    errors: { 409: ['username_taken'] },
  },
  'GET /v1/admin/resellers': {
    summary: 'All resellers',
    tag: 'Operator',
    auth: 'operator',
    query: listQuery,
    replies: { 200: json('a page of resellers', R.page(R.Reseller)) },
  },
  'PATCH /v1/admin/resellers/:username': {
    summary: 'Enable push, change settings',
    tag: 'Operator',
    auth: 'operator',
    body: updateResellerInput,
    replies: { 200: json('the reseller', R.Reseller) },
    errors: { 404: ['unknown_reseller'] },
  },
  'GET /v1/admin/resellers/:username/api-keys': {
    summary: "A reseller's API keys, live and revoked (prefix only)",
    tag: 'Operator',
    auth: 'operator',
    query: listQuery,
    replies: { 200: json('a page of keys, oldest first', R.page(R.ApiKey)) },
    errors: { 404: ['unknown_reseller'] },
  },
  'POST /v1/admin/resellers/:username/api-keys': {
    summary: 'Issue a reseller a new API key (e.g. after revoking a leaked last key)',
    tag: 'Operator',
    auth: 'operator',
    body: createApiKeyInput,
    bodyRequired: false,
    replies: { 201: json('the key, shown once', R.ApiKeyCreated) },
    errors: { 404: ['unknown_reseller'], 409: ['too_many_keys'] },
  },
  'POST /v1/admin/resellers/:username/api-keys/:id/revoke': {
    summary: "Revoke any of a reseller's keys, its last one included; its console sessions end, its event streams within seconds",
    tag: 'Operator',
    auth: 'operator',
    replies: { 200: json('the revoked key (a revoked key answers as it is)', R.ApiKey) },
    errors: { 404: ['unknown_reseller'] },
  },
  'POST /v1/admin/domains/import': {
    summary: 'Load domains (brand by name, profile by username or created)',
    tag: 'Operator',
    auth: 'operator',
    body: importDomainsInput,
    replies: { 201: json('how many were imported', R.ImportResult) },
    errors: { 400: ['invalid_domains', 'unknown_reseller', 'unknown_customer'] },
  },
  'GET /v1/admin/emails': {
    summary: 'The outbox: every email, sent or not (the HTML mailbox is at /admin/emails)',
    tag: 'Operator',
    auth: 'operator',
    query: listQuery,
    replies: { 200: json('a page of emails, newest first', R.page(R.EmailSummary)) },
  },
  'GET /v1/admin/emails/:id': {
    summary: 'One email with its text, HTML and attachments',
    tag: 'Operator',
    auth: 'operator',
    replies: { 200: json('the email', R.Email) },
  },

  'POST /v1/sessions': {
    summary: 'Console sign-in: exchange an API key for an httpOnly, SameSite=Strict session cookie (12 h)',
    description:
      "Sets the `dp_session` cookie (`__Host-dp_session` when PUBLIC_URL is https) and answers the session's binding in the `Session-Binding` header. Every request authenticated by that cookie must send the binding back in a `Session-Binding` header (a GET may use `?session_binding=`), else 401: a cookie set by a page on another port of the host is refused. A request that changes state must also carry this deployment's `Origin` (PUBLIC_URL's when set).",
    tag: 'Account',
    auth: 'none',
    body: createSessionInput,
    bodyRequired: true,
    replies: { 201: json('signed in', z.strictObject({ username: z.string(), expires_at: z.string() })) },
    errors: { 401: ['unauthorized'], 403: ['origin_mismatch'], 429: ['too_many_attempts'] },
  },
  'DELETE /v1/sessions/current': {
    summary: 'Console sign-out: ends the session and clears its cookie',
    tag: 'Account',
    auth: 'reseller',
    replies: { 204: { description: 'signed out' } },
    errors: { 403: ['origin_mismatch'] },
  },
  'GET /v1/api-keys': {
    summary: 'Your API keys, live and revoked: prefix, label, created, last used, revoked (never the key)',
    tag: 'Account',
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of keys, oldest first', R.page(R.ApiKey)) },
  },
  'POST /v1/api-keys': {
    summary: 'Create another API key; the answer is the only time the key is shown',
    description: `At most ${MAX_LIVE_KEYS} live keys per reseller (409 \`too_many_keys\`). A retried create makes another key: revoke the spare one.`,
    tag: 'Account',
    auth: 'reseller',
    body: createApiKeyInput,
    bodyRequired: false,
    replies: { 201: json('the key, shown once', R.ApiKeyCreated) },
    errors: { 409: ['too_many_keys'] },
  },
  'POST /v1/api-keys/:id/revoke': {
    summary: 'Revoke one of your keys: it stops working at once, its console sessions end, its event streams within seconds',
    description:
      "The key you call with may be revoked (this answer is its last). Your last live key may not (409 `last_key`): create another first. Revoking a revoked key answers it as it is; another reseller's key id is 404.",
    tag: 'Account',
    auth: 'reseller',
    replies: { 200: json('the revoked key', R.ApiKey) },
    errors: { 409: ['last_key'] },
  },
  'GET /v1/me': { summary: 'The calling reseller', tag: 'Account', auth: 'reseller', replies: { 200: json('you', R.Reseller) } },
  'GET /v1/domains': {
    summary: 'Your domains, filterable by `locked` and `q` (substring)',
    tag: 'Domains',
    auth: 'reseller',
    query: domainListQuery,
    replies: {
      200: json(
        'a page of domains (without layouts: see one domain), with `total`: every domain matching the filter',
        R.page(R.DomainListItem).extend({ total: z.number().int().describe('domains matching the filter, all pages') }),
      ),
    },
  },
  'GET /v1/domains/:name': {
    summary: 'One of your domains',
    tag: 'Domains',
    auth: 'reseller',
    replies: { 200: json('the domain', R.Domain) },
  },
  'PUT /v1/domains/:name/contact': {
    summary: 'Change the registrant contact of your domain',
    description:
      'Contact fields (all optional strings): `first_name`, `last_name`, `org_name` (≤ 200), `email` (≤ 320), `phone` (≤ 50), `address` (≤ 500), `country` (ISO 3166-1 alpha-2). Unknown fields are refused.',
    tag: 'Domains',
    auth: 'reseller',
    body: contactSchema,
    bodyRequired: true,
    replies: { 200: json('the domain and its registrant profile', R.DomainContact) },
    errors: { 409: ['invalid_state'] },
  },
  'GET /v1/profiles': {
    summary: 'Registrant profiles (user accounts)',
    tag: 'Profiles',
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of profiles', R.page(R.Profile)) },
  },
  'POST /v1/profiles': {
    summary: 'Create a registrant profile (the password is stored as a scrypt hash)',
    description:
      '`contact` fields (all optional strings): `first_name`, `last_name`, `org_name`, `email`, `phone`, `address`, `country` (ISO 3166-1 alpha-2).',
    tag: 'Profiles',
    auth: 'reseller',
    body: createProfileInput,
    replies: { 201: json('the profile', R.Profile) },
    errors: { 409: ['conflict'] },
  },
  'GET /v1/brands': {
    summary: 'Your brands',
    tag: 'Brands',
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of brands', R.page(R.Brand)) },
  },
  'POST /v1/brands': {
    summary: 'Create a brand',
    tag: 'Brands',
    auth: 'reseller',
    body: createBrandInput,
    replies: { 201: json('the brand', R.Brand) },
  },
  'PATCH /v1/brands/:id': {
    summary: 'Edit a brand (a copy made by a push is read-only)',
    tag: 'Brands',
    auth: 'reseller',
    body: updateBrandInput,
    replies: { 200: json('the brand', R.Brand) },
    errors: { 409: ['brand_not_editable'] },
  },
  'GET /v1/push-settings': {
    summary: 'Your company_id, allowed resellers and notification email',
    tag: 'Push settings',
    auth: 'reseller',
    replies: { 200: json('push settings', R.PushSettings) },
  },
  'POST /v1/push-settings/allowed-resellers': {
    summary: 'Allow a reseller (username or company_id) to push to you; idempotent',
    tag: 'Push settings',
    auth: 'reseller',
    body: allowResellerInput,
    replies: { 201: json('the allowed reseller', R.AllowedReseller) },
    errors: { 404: ['unknown_reseller'] },
  },
  'DELETE /v1/push-settings/allowed-resellers/:username': {
    summary: 'Revoke an allowed reseller',
    tag: 'Push settings',
    auth: 'reseller',
    replies: { 204: { description: 'revoked' } },
  },
  'PUT /v1/push-settings/notification-email': {
    summary: 'Where to notify you of domains received (`null` for nowhere)',
    tag: 'Push settings',
    auth: 'reseller',
    body: notificationEmailInput,
    replies: { 200: json('the notification email', R.NotificationEmail) },
  },

  'POST /v1/bulk-pushes': {
    summary: 'Submit a bulk push ("Move to another reseller")',
    description: [
      'Exactly one of `domains` (array), `domain_list` (text: names separated by newlines, commas, semicolons, tabs or spaces; errors name the line) or `all_domains: true`.',
      '`profile` is `{"mode": "new"}` (default) or `{"mode": "existing", "domain", "username", "password"}` naming a profile of the gaining reseller; the password is checked and dropped.',
      "Header `Idempotency-Key`: the same key and body answers 200 with the first answer's shape (current status); another body → 409 `idempotency_conflict`.",
      '`dry_run: true` answers 200 with the predicted outcome of each domain and changes nothing. Front ends show it as a review step before they submit for real.',
      '`start_after_seconds` (0–3,600, default 0) is a grace window: the job is `scheduled` and nothing moves until it ends; a cancel in it ends every item `cancelled`. `start_at` (an ISO time up to 30 days ahead, or `"next_cycle"`: the gaining reseller\'s next billing-cycle start) schedules it instead. The push rules are checked again when it starts; what changed becomes item results.',
      '`email_results_to`: omitted, the results email goes to your account email; `null`, to no one.',
      "`domain_list` is read by the one parser the console and the CLI use too: headered exports (`Domain`, `Domain Name`, `domain_name`, extra columns) and headerless CSV are read by their domain column (`domain_list_format`: `auto` (default), `text` or `csv`); `invalid_domains` names each bad entry's `line` (and `column`). With `skip_invalid: true` the valid names move and each invalid entry becomes an item `skipped`/`invalid_domain` whose message names its line.",
    ].join('\n\n'),
    tag: 'Bulk pushes',
    auth: 'reseller',
    body: submitPushInput,
    bodyRequired: true,
    headers: [{ name: 'Idempotency-Key', description: 'makes a retried submit return the same job' }],
    replies: {
      202: json('the job is queued, or scheduled (a grace window or a schedule)', R.Submitted),
      200: json('an idempotent replay (same shape as the 202), or a dry run', z.union([R.Submitted, R.DryRun])),
    },
    errors: {
      400: ['invalid_domains', 'too_many_domains'],
      403: ['feature_disabled', 'not_authorized'],
      409: ['idempotency_conflict'],
      422: ['unknown_reseller', 'invalid_profile_credentials'],
      429: ['too_many_jobs', 'too_many_attempts'],
      503: ['queue_unavailable'],
    },
  },
  ...jobOperations('/v1/bulk-pushes', 'bulk pushes', 'bulk push', 'Bulk pushes'),
  ...jobOperations('/v1/jobs', 'bulk jobs of every kind (push, release)', 'bulk job of any kind', 'Bulk jobs'),

  'POST /v1/customers': {
    summary: 'Create a customer',
    tag: 'Customers',
    auth: 'reseller',
    body: createCustomerInput,
    replies: { 201: json('the customer', R.Customer) },
  },
  'GET /v1/customers': {
    summary: 'Your customers, `?status=active|released`',
    tag: 'Customers',
    auth: 'reseller',
    query: customerListQuery,
    replies: { 200: json('a page of customers', R.page(R.Customer)) },
  },
  'GET /v1/customers/:id': {
    summary: 'One customer with its last release',
    tag: 'Customers',
    auth: 'reseller',
    replies: { 200: json('the customer', R.Customer) },
  },
  'PATCH /v1/customers/:id': {
    summary: 'Fix contact details',
    tag: 'Customers',
    auth: 'reseller',
    body: updateCustomerInput,
    replies: { 200: json('the customer', R.Customer) },
    errors: { 409: ['already_released', 'conflict'] },
  },
  'POST /v1/customers/:id/packages': {
    summary: 'Create a service package',
    tag: 'Customers',
    auth: 'reseller',
    body: createPackageInput,
    replies: { 201: json('the package', R.Package) },
    errors: { 409: ['already_released', 'conflict'] },
  },
  'GET /v1/customers/:id/packages': {
    summary: "A customer's service packages",
    tag: 'Customers',
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of packages', R.page(R.Package)) },
  },
  'GET /v1/customers/:id/packages/:pid': {
    summary: 'One service package',
    tag: 'Customers',
    auth: 'reseller',
    replies: { 200: json('the package', R.Package) },
  },
  'POST /v1/customers/:id/packages/:pid/domains': {
    summary: 'Assign a registered domain (registrant = this customer) or a virtual one',
    tag: 'Customers',
    auth: 'reseller',
    body: addPackageDomainInput,
    replies: { 201: json('the package domain', R.PackageDomain) },
    errors: { 400: ['invalid_domains'], 409: ['conflict', 'already_released'], 422: ['wrong_registrant', 'registered_domain'] },
  },
  'DELETE /v1/customers/:id/packages/:pid/domains/:domain': {
    summary: 'Remove a domain from a package',
    tag: 'Customers',
    auth: 'reseller',
    replies: { 204: { description: 'removed' } },
    errors: { 409: ['already_released', 'conflict'] },
  },
  'POST /v1/customers/:id/release': {
    summary: 'Release a customer with all their products (a bulk job of kind release)',
    tag: 'Customers',
    auth: 'reseller',
    body: releaseCustomerInput,
    replies: { 202: json('the release job; view it under /v1/jobs/{id}', R.ReleaseAccepted) },
    errors: { 409: ['already_released', 'conflict'], 422: ['invalid_contact'], 429: ['too_many_jobs'], 503: ['queue_unavailable'] },
  },
  'GET /v1/claims/:token': {
    summary: 'What a claim link offers (no auth: the token is the credential)',
    description:
      'The link the claim email gives. A browser (`Accept: text/html`) gets a page showing what was released and the two choices as buttons; a machine gets JSON.',
    tag: 'Claims',
    auth: 'none',
    replies: {
      200: {
        description: 'the customer and products to claim (JSON), or the claim page (HTML)',
        schema: R.ClaimInfo,
        media: ['text/html'],
      },
    },
    errors: { 410: ['token_used', 'token_expired'], 429: ['too_many_attempts'] },
    errorMedia: ['text/html'],
  },
  'POST /v1/claims/:token': {
    summary: 'Claim: a new account, or import into an existing one with matching contact email',
    description:
      "JSON for machines. The claim page's form posts here too (`application/x-www-form-urlencoded`, `choice` and `email`) and gets an HTML result page; a used or expired link answers a 410 page.",
    tag: 'Claims',
    auth: 'none',
    body: claimInput,
    bodyRequired: true,
    replies: { 201: { description: 'the account (JSON), or the result page (HTML)', schema: R.ClaimResult, media: ['text/html'] } },
    errors: { 410: ['token_used', 'token_expired'], 422: ['contact_mismatch'], 429: ['too_many_attempts'] },
    errorMedia: ['text/html'],
  },
};

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
  Undocumented: 'Routes of the route table missing from api/openapi/operations.ts (a test fails while any is listed).',
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
