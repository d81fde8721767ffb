import { z } from 'zod';
import { idempotencyKey, parseInput } from '../../shared/platform/validation';
import { submitPush, submitPushInput } from '../../shared/push/submit';
import { me, submitter } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { jobRoutes } from './jobs';
import { type Routes, send, fieldOf } from './route';

/** Move to another reseller: submit, then the job views of /v1/jobs for pushes only. */
export const bulkPushes: Routes = {
  'POST /v1/bulk-pushes': {
    handle: ({ deps }) =>
      send(async (req, res) => {
        const key = idempotencyKey(req.get('idempotency-key'));
        const result = await submitPush(deps, me(res), parseInput(submitPushInput, req.body), key, submitter(res));
        return [result.kind === 'created' ? 202 : 200, result.body];
      }),
    audit: {
      action: 'bulk_job.submit',
      target: 'bulk_job',
      // A dry run changes nothing: no entry.
      when: (req) => req.body?.dry_run !== true,
      details: (req, b) => ({
        kind: 'push',
        gaining_reseller: fieldOf(req.body, 'gaining_reseller'),
        total: fieldOf(b, 'total'),
        duplicates_removed: fieldOf(b, 'duplicates_removed'),
        status: fieldOf(b, 'status'),
        profile_mode: req.body?.profile?.mode ?? 'new',
        apply_to_locked: req.body?.apply_to_locked === true,
        all_domains: req.body?.all_domains === true || undefined,
        start_at: fieldOf(req.body, 'start_at'),
        start_after_seconds: fieldOf(req.body, 'start_after_seconds'),
        idempotency_key: req.get('idempotency-key') ? true : undefined,
      }),
    },
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
  ...jobRoutes('/v1/bulk-pushes', 'push', { what: 'bulk pushes', one: 'bulk push', tag: 'Bulk pushes' }),
};
