/**
 * A request body example for every operation that takes a body, keyed like operations.ts
 * (`METHOD /express/path`). Without one, Swagger UI makes an example up from the schema, and for
 * a body like the submit's (exactly one of three ways to name the domains) what it made up was
 * refused by the API. Each example here is valid against its schema and accepted as written:
 * they name the demo data (`npm run demo`: resellers losing-demo and gaining-demo, domains
 * demo-00000.example …), and test/e2e/openapi-examples.test.ts sends every one on it, with what
 * the operation needs arranged first (a job to reschedule, a customer who owns
 * ada-lovelace.example, a claim token).
 */
interface BodyExample {
  summary: string;
  value: unknown;
}

/** A key of the form the API issues; the examples test makes it a key of losing-demo. */
export const EXAMPLE_API_KEY = 'dpk_ExAmPlE0000000000000000000000000000000000';

export const REQUEST_EXAMPLES: Record<string, Record<string, BodyExample>> = {
  'POST /v1/api-keys': { labelled: { summary: 'Another key, labelled with what it is for', value: { label: 'CI deploys' } } },
  'POST /v1/admin/resellers/:username/api-keys': {
    issued: { summary: 'A new key for a reseller (e.g. after its leaked key was revoked)', value: { label: 'issued by the operator' } },
  },
  'POST /v1/admin/resellers': {
    reseller: {
      summary: 'A reseller that may push domains',
      value: { username: 'acme-hosting', name: 'Acme Hosting Ltd', email: 'ops@acme.example', domain_push_enabled: true },
    },
  },
  'PATCH /v1/admin/resellers/:username': {
    settings: {
      summary: 'Where pushed-in domains are announced, and the billing day',
      value: { push_notification_email: 'incoming@gaining.example', billing_anchor_day: 15 },
    },
  },
  'POST /v1/admin/domains/import': {
    domains: {
      summary: 'Two domains of losing-demo, one locked and branded, with a new registrant profile',
      value: [
        {
          name: 'shop-example.example',
          reseller: 'losing-demo',
          locked: true,
          brand: 'Blue Brand',
          profile: { username: 'shop-owner', password: 'shop-owner-secret', contact: { email: 'owner@shop-example.example' } },
        },
        { name: 'blog-example.example', reseller: 'losing-demo', profile: 'shop-owner' },
      ],
    },
  },
  'POST /v1/sessions': {
    key: { summary: 'Sign in to the console with a reseller API key', value: { api_key: EXAMPLE_API_KEY } },
  },
  'PUT /v1/domains/:name/contact': {
    contact: {
      summary: "The registrant contact of the domain's profile",
      value: { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.org', phone: '+44 20 7946 0000', country: 'GB' },
    },
  },
  'POST /v1/profiles': {
    profile: {
      summary: 'A registrant profile for one of your domains',
      value: { domain: 'demo-00004.example', username: 'ada', password: 'analytical-engine', contact: { email: 'ada@example.org' } },
    },
  },
  'POST /v1/brands': {
    brand: {
      summary: 'A brand and its layout settings',
      value: { name: 'Red Brand', settings: { theme: 'red', support_email: 'help@red.example' } },
    },
  },
  'PATCH /v1/brands/:id': {
    rename: { summary: 'A new name, the settings kept', value: { name: 'Crimson Brand' } },
  },
  'POST /v1/webhooks': {
    crm: {
      summary: "The reseller's CRM hears of finished jobs and of domains moved in or out",
      value: {
        url: 'https://crm.example.com/hooks/domain-push',
        event_types: ['bulk_job.finished', 'domain.pushed_in', 'domain.pushed_out'],
        description: 'CRM',
      },
    },
  },
  'PATCH /v1/webhooks/:id': {
    events: {
      summary: 'Take job starts too, and switch the endpoint back on',
      value: { event_types: ['bulk_job.started', 'bulk_job.finished'], enabled: true },
    },
  },
  'POST /v1/push-settings/allowed-resellers': {
    allow: { summary: 'Accept pushes from losing-demo (username or company_id)', value: { reseller: 'losing-demo' } },
  },
  'PUT /v1/push-settings/notification-email': {
    set: { summary: 'Announce pushed-in domains to this address', value: { email: 'incoming@gaining.example' } },
    none: { summary: 'Announce them to no one', value: { email: null } },
  },
  'POST /v1/bulk-pushes': {
    names: {
      summary: 'Some domains, by name, locked ones too',
      value: {
        gaining_reseller: 'gaining-demo',
        domains: ['demo-00001.example', 'demo-00002.example', 'demo-00003.example'],
        apply_to_locked: true,
        email_results_to: 'ops@losing.example',
      },
    },
    all: {
      summary: 'Every domain of the account, after a 10-minute window to cancel in',
      value: { gaining_reseller: 'gaining-demo', all_domains: true, apply_to_locked: true, start_after_seconds: 600 },
    },
    pasted: {
      summary: 'A pasted list (one name a line); invalid lines become skipped items',
      value: {
        gaining_reseller: 'gaining-demo',
        domain_list: 'demo-00005.example\ndemo-00006.example\nnot a domain',
        skip_invalid: true,
      },
    },
    dry_run: {
      summary: 'A dry run: what would happen to each domain, nothing changed',
      value: { gaining_reseller: 'gaining-demo', domains: ['demo-00007.example', 'demo-00008.example'], dry_run: true },
    },
    next_cycle: {
      summary: "At the start of gaining-demo's next billing cycle, into an existing profile",
      value: {
        gaining_reseller: 'gaining-demo',
        domains: ['demo-00010.example'],
        profile: { mode: 'existing', domain: 'incoming.example', username: 'incoming', password: 'incoming-secret' },
        start_at: 'next_cycle',
      },
    },
  },
  'POST /v1/bulk-pushes/:id/reschedule': {
    next_cycle: { summary: "At the gaining reseller's next billing cycle", value: { start_at: 'next_cycle' } },
    in_five_minutes: { summary: 'Five minutes from now', value: { start_after_seconds: 300 } },
    now: { summary: 'At once', value: { start_at: 'now' } },
  },
  'POST /v1/jobs/:id/reschedule': {
    in_five_minutes: { summary: 'Five minutes from now', value: { start_after_seconds: 300 } },
    now: { summary: 'At once', value: { start_at: 'now' } },
  },
  'POST /v1/customers': {
    customer: {
      summary: 'A customer and how to reach them',
      value: {
        name: 'Ada Lovelace',
        email: 'ada@example.org',
        phone: '+44 20 7946 0000',
        address: '12 St James Square, London',
        country: 'GB',
      },
    },
  },
  'PATCH /v1/customers/:id': {
    phone: { summary: 'A new phone number; the rest kept', value: { phone: '+44 20 7946 0999' } },
  },
  'POST /v1/customers/:id/packages': {
    package: { summary: 'A service package', value: { name: 'Web hosting' } },
  },
  'POST /v1/customers/:id/packages/:pid/domains': {
    domain: {
      summary: "One of the customer's domains (they are its registrant) into the package",
      value: { domain: 'ada-lovelace.example' },
    },
    virtual: {
      summary: 'A name that is not a domain here (a virtual entry)',
      value: { domain: 'www.ada-lovelace.example', virtual: true },
    },
  },
  'POST /v1/customers/:id/release': {
    release: {
      summary: 'Release the customer and everything they have; the results to you',
      value: { email_results_to: 'ops@losing.example' },
    },
  },
  'POST /v1/claims/:token': {
    new_account: { summary: 'A new account for the released products', value: { choice: 'new_account' } },
    import: { summary: 'Into an account the customer already has elsewhere', value: { choice: 'import', email: 'ada@example.org' } },
  },
};
