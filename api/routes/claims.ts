import type { BulkDeps } from '../../shared/bulk/kind';
import { claim, claimInfo, claimInput } from '../../shared/customers/claims';
import { parseInput } from '../../shared/platform/validation';
import { throttledByStatus } from '../auth';
import { readBody } from '../http-basics';
import * as R from '../openapi/responses';
import { param, type Routes, send, fieldOf } from './route';

/**
 * The token is the credential: refused while the address is blocked, and an unknown token (404)
 * counts as a failed attempt. The body is read after that check (readBody).
 */
const claimGuard = (deps: BulkDeps) => throttledByStatus(deps.authThrottle, 'claim_token', [404]);

/** A released customer's single-use claim link (api/claim-page.ts serves its HTML for a browser). */
export const claims: Routes = {
  'GET /v1/claims/:token': {
    handle: ({ deps }) => [claimGuard(deps), send(async (req) => [200, await claimInfo(deps, param(req, 'token'))])],
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
    handle: ({ deps }) => [
      claimGuard(deps),
      readBody,
      send(async (req) => [201, await claim(deps, param(req, 'token'), parseInput(claimInput, req.body))]),
    ],
    audit: {
      action: 'customer.claim',
      target: 'customer',
      // The token is the credential: never the target id, never recorded.
      targetId: (_q, b) => fieldOf((b as { customer?: unknown } | undefined)?.customer, 'id') ?? null,
      actor: () => ({ kind: 'claim_link', id: null }),
      details: (req, b) => ({
        choice: fieldOf(req.body, 'choice'),
        account: fieldOf((b as { account?: unknown } | undefined)?.account, 'id'),
      }),
    },
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
