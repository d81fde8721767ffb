import { z } from 'zod';
import { doneStatuses, itemReasons, itemStatuses, type KindTable } from '../../shared/bulk/kind';
import { contactSchema } from '../../shared/catalog/profiles';

/**
 * The shapes the API answers with, for the OpenAPI document. Requests are described by the very
 * schemas that validate them (imported from shared/); responses have no validator of their own,
 * so these are checked against real answers by test/e2e/openapi.test.ts (it cannot drift quietly).
 * The central shapes (job, item, submit, error) are strict: a new field fails that test until it
 * is documented here.
 */
const ts = z.string().meta({ format: 'date-time', description: 'ISO 8601 timestamp (UTC)' });
const id = z.string().describe('opaque id');
const settings = z.record(z.string(), z.unknown());

export const ErrorBody = z
  .strictObject({
    error: z.strictObject({
      code: z.string().describe('snake_case error code; see the list per status'),
      message: z.string().describe('for people'),
      details: z
        .unknown()
        .optional()
        .describe('machine-readable details: `fields[]` (path, message) for invalid_request, `invalid[]` for invalid_domains'),
    }),
  })
  .meta({ id: 'Error' });

export const page = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    items: z.array(item),
    next_cursor: z.string().nullable().describe('pass as ?cursor= for the next page; null on the last'),
  });

export const Reseller = z
  .strictObject({
    username: z.string(),
    company_id: z.string().describe('public id another reseller uses to authorize you'),
    name: z.string(),
    email: z.string(),
    domain_push_enabled: z.boolean(),
    push_notification_email: z.string().nullable(),
    billing_anchor_day: z.number().int(),
    default_settings: settings,
    created_at: ts,
  })
  .meta({ id: 'Reseller' });
export const ResellerCreated = Reseller.extend({ api_key: z.string().describe('shown once; only its hash is stored') }).meta({
  id: 'ResellerCreated',
});

export const ApiKey = z
  .strictObject({
    id: id,
    prefix: z.string().describe('the first 8 characters of the key, to recognise it; the key itself is never shown again'),
    label: z.string().nullable().describe('what the key is for'),
    created_at: ts,
    created_via: z.enum(['signup', 'reseller', 'operator']).nullable().describe('who made it; null for keys older than this field'),
    last_used_at: ts
      .nullable()
      .describe('last authentication with it (recorded at most once a minute); console sessions opened with it do not count'),
    revoked_at: ts.nullable(),
    revoked_via: z.enum(['reseller', 'operator']).nullable(),
    current: z.boolean().describe('the key this request was authenticated with (or its console session was opened with)'),
  })
  .meta({ id: 'ApiKey' });
export const ApiKeyCreated = ApiKey.extend({
  api_key: z.string().describe('the key: shown in this answer only; only its hash is stored'),
}).meta({
  id: 'ApiKeyCreated',
});

export const Contact = contactSchema
  .describe('registrant contact: first_name, last_name, org_name, email, phone, address, country (ISO 3166-1 alpha-2); all optional')
  .meta({ id: 'Contact' });

export const Domain = z
  .object({
    name: z.string(),
    locked: z.boolean(),
    status: z.string(),
    expires_at: ts.nullable(),
    brand: z.object({ id, name: z.string().nullable(), editable: z.boolean() }).nullable(),
    profile: z.object({ id, username: z.string() }).loose().nullable(),
    customer_id: z.string().nullable().optional(),
    layout: settings.nullable().describe("the brand's settings, or the owner's default_settings when unbranded"),
    settings: settings.nullable(),
  })
  .meta({ id: 'Domain' });

/** A row of the domain list: the brand by reference, no layout (a page must not repeat settings blobs). */
export const DomainListItem = Domain.omit({ layout: true }).meta({ id: 'DomainListItem' });

export const Profile = z
  .object({ id, domain: z.string(), username: z.string(), contact: Contact, created_at: ts })
  .loose()
  .meta({ id: 'Profile' });

export const Brand = z
  .object({
    id,
    name: z.string().nullable().describe('null for a copy made by a push (unlabelled)'),
    settings,
    editable: z.boolean(),
    copied_from_job: z.string().nullable(),
    created_at: ts,
  })
  .meta({ id: 'Brand' });

export const PushSettings = z
  .strictObject({
    company_id: z.string(),
    domain_push_enabled: z.boolean(),
    allowed_resellers: z.array(z.object({ username: z.string(), company_id: z.string(), name: z.string(), authorized_at: ts })),
    notification_email: z.string().nullable(),
  })
  .meta({ id: 'PushSettings' });
export const AllowedReseller = z.strictObject({ username: z.string(), company_id: z.string(), name: z.string() });

const engineCounts = {
  pending: z.number().int(),
  running: z.number().int(),
  skipped: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
};
const counts = z.object(engineCounts).catchall(z.number().int()).describe("items by status; the kind's done status too");
const links = z.strictObject({ self: z.string(), items: z.string(), events: z.string(), cancel: z.string() });
const jobStatus = z
  .enum(['scheduled', 'queued', 'running', 'suspended', 'cancelling', 'completed', 'cancelled', 'failed'])
  .describe('where the job is in its life: `scheduled` waits for `start_at` (grace window or schedule) with nothing moved');
const outcome = z
  .string()
  .nullable()
  .describe(
    'what happened to the items, null while the job is open: `all_pushed` (`all_released`), `partly_skipped`, `partly_failed`, `all_skipped`, `all_failed`, `none_pushed` (`none_released`), `cancelled`, `nothing_to_do`',
  );

/**
 * The job view. With the app's kind table (`kindSchemas`) its `kind`, `done_status` and `counts`
 * keys are the table's; without one (the routes' static reference) they are any string.
 */
function jobSchema(kinds?: KindTable) {
  const done = kinds ? doneStatuses(kinds) : [];
  return z
    .strictObject({
      id: z.uuid(),
      kind: (kinds ? z.enum(Object.keys(kinds)) : z.string()).describe('the kind of bulk job (`GET /v1/kinds` lists them)'),
      status: jobStatus,
      outcome,
      outcome_text: z
        .string()
        .describe('one line for people: "completed with 2 failures (5 of 7 pushed)", "cancelled after 1,000 of 20,000 pushed"'),
      losing_reseller: z.string().nullable(),
      gaining_reseller: z.string().nullable(),
      total: z.number().int(),
      counts: kinds
        ? z
            .object({ ...engineCounts, ...Object.fromEntries(done.map((d) => [d, z.number().int().optional()])) })
            .catchall(z.number().int())
            .describe("items by status; the kind's done status too")
        : counts,
      options: settings.describe(
        kinds
          ? `as submitted, never the password; each kind's schema: ${Object.keys(kinds)
              .map((k) => `\`KindOptions-${k}\``)
              .join(', ')}`
          : 'as submitted, never the password',
      ),
      done_status: (kinds ? z.enum(done) : z.string()).describe(
        "the item status that means done for this job's kind (`pushed`, `released`)",
      ),
      labels: z
        .strictObject({
          noun: z.string().describe('a job of this kind, for people: "Bulk push"'),
          unit: z.string().describe('one item: "domain"'),
          units: z.string().describe('items: "domains"'),
          sent_title: z.string().describe('the title the sending side sees: "Push to acme"'),
          received_title: z.string().describe('the title the receiving side sees: "Received from bob"'),
        })
        .describe("how people see the job's kind; the console and the CLI show these as they come"),
      details: z.array(z.strictObject({ label: z.string(), value: z.string() })).describe('the options in words, for people'),
      submitted_by: z
        .strictObject({ via: z.enum(['api_key', 'session']), key_prefix: z.string().nullable() })
        .nullable()
        .describe('the key (its public prefix) or console session that submitted the job'),
      created_at: ts,
      start_at: ts.nullable().describe('when a job that waits (grace window, schedule) starts; null: at once'),
      started_at: ts.nullable(),
      suspended_at: ts.nullable(),
      finished_at: ts.nullable(),
      rate: z
        .number()
        .nullable()
        .describe('items the workers finished (done, skipped, failed; not cancelled) per second of running time (suspended time excluded)'),
      eta_seconds: z.number().int().nullable().describe('only while running'),
      error: z.string().nullable().describe('why a job failed'),
      links,
    })
    .meta({ id: 'Job' });
}
export const Job = jobSchema();

function itemSchema(kinds?: KindTable) {
  return z
    .strictObject({
      domain: z.string().describe('a package item reads `package:<id>`'),
      product: z.enum(['domain', 'package']).optional(),
      status: kinds ? z.enum(itemStatuses(kinds)) : z.string(),
      reason: (kinds ? z.enum(itemReasons(kinds)) : z.string()).nullable(),
      message: z.string().nullable(),
      was_locked: z.boolean().nullable(),
      relocked: z.boolean().nullable(),
      finished_at: ts.nullable(),
    })
    .meta({ id: 'Item' });
}
export const Item = itemSchema();

/**
 * The shapes that depend on the kinds the app runs with, by component name: the job and the item
 * (kinds, done statuses, counts, statuses, reasons) and each kind's options schema.
 */
export function kindSchemas(kinds: KindTable): Record<string, z.ZodType> {
  return {
    Job: jobSchema(kinds),
    Item: itemSchema(kinds),
    ...Object.fromEntries(
      Object.values(kinds).map((k) => [
        `KindOptions-${k.name}`,
        k.options.meta({ id: `KindOptions-${k.name}`, description: `the options of a ${k.labels.noun} job` }),
      ]),
    ),
  };
}

export const Submitted = z
  .strictObject({
    id: z.uuid(),
    status: jobStatus,
    total: z.number().int(),
    duplicates_removed: z.number().int(),
    duplicates: z.array(z.string()),
    start_at: ts.nullable().describe('when the job starts (`scheduled`), or null: at once'),
    links,
  })
  .meta({ id: 'Submitted' });

export const DryRun = z
  .strictObject({
    dry_run: z.literal(true),
    total: z.number().int(),
    duplicates_removed: z.number().int(),
    duplicates: z.array(z.string()),
    predicted: z.strictObject({ pushed: z.number().int(), skipped: z.number().int(), failed: z.number().int() }),
    start_at: ts.nullable().describe('when the job would start'),
    items: z.array(
      z.strictObject({
        domain: z.string(),
        status: z.string(),
        reason: z.string().nullable(),
        was_locked: z.boolean(),
        message: z.string().optional().describe('an invalid entry skipped by skip_invalid: why, and where'),
        line: z.number().int().optional(),
        column: z.number().int().optional(),
      }),
    ),
  })
  .meta({ id: 'DryRun' });

export const ControlAnswer = z.strictObject({ status: jobStatus });

export const Customer = z
  .object({
    id,
    name: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    address: z.string().nullable(),
    country: z.string().nullable(),
    status: z.enum(['active', 'released']),
    released_at: ts.nullable(),
    created_at: ts,
    domains: z.number().int().describe('domains you still hold for this customer'),
    packages: z.number().int(),
    last_release: z.object({ id: z.uuid(), status: jobStatus, links }).nullable().optional(),
  })
  .meta({ id: 'Customer' });

const PackageDomain = z.object({ domain: z.string(), virtual: z.boolean(), added_at: ts }).meta({ id: 'PackageDomain' });
export const Package = z
  .object({ id, customer_id: z.string(), name: z.string(), created_at: ts, domains: z.array(PackageDomain) })
  .loose()
  .meta({ id: 'Package' });
export { PackageDomain };

export const ReleaseAccepted = z
  .strictObject({
    id: z.uuid(),
    status: jobStatus,
    total: z.number().int(),
    customer_id: z.string(),
    domains: z.number().int(),
    packages: z.number().int(),
    links,
  })
  .meta({ id: 'ReleaseAccepted' });

const claimSummary = {
  customer: z.object({ id, name: z.string(), email: z.string().nullable(), status: z.string() }),
  products: z.object({ domains: z.number().int(), packages: z.number().int() }),
};
export const ClaimInfo = z
  .object({ ...claimSummary, expires_at: ts, choices: z.array(z.enum(['new_account', 'import'])) })
  .meta({ id: 'ClaimInfo' });
export const ClaimResult = z
  .object({
    account: z.object({ id, email: z.string(), mode: z.string(), created_at: ts }),
    ...claimSummary,
  })
  .meta({ id: 'ClaimResult' });

export const ImportResult = z
  .object({ imported: z.number().int(), already_present: z.array(z.string()).describe('names that were already on the platform') })
  .loose();

export const EmailSummary = z
  .object({
    id,
    to: z.string(),
    subject: z.string(),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    sent_at: ts.nullable(),
    transport: z.enum(['smtp', 'capture']).nullable(),
    created_at: ts,
    dedupe_key: z.string(),
    attachment_count: z.number().int(),
    has_html: z.boolean(),
  })
  .meta({ id: 'EmailSummary' });
export const Email = z
  .object({
    id,
    to: z.string(),
    subject: z.string(),
    text: z.string(),
    html: z.string().nullable(),
    attachments: z.array(
      z.object({
        filename: z.string(),
        content: z.string(),
        contentType: z.string().optional(),
        pending: z.literal(true).optional().describe('made when the email is sent (a job’s results CSV): until then `content` is empty'),
      }),
    ),
  })
  .loose()
  .describe('the outbox row; a claim link is masked unless this is a captured copy')
  .meta({ id: 'Email' });

export const DomainContact = z.strictObject({
  name: z.string(),
  profile: z.strictObject({ id, username: z.string(), contact: Contact }),
});
export const NotificationEmail = z.strictObject({ notification_email: z.string().nullable() });
export const Health = z.object({ status: z.literal('ok') });
export const Ready = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()) }).loose();
export const Index = z.object({ name: z.string(), links: z.record(z.string(), z.string()) });
