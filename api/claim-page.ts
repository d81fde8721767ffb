import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';
import type { Deps } from '../shared/platform/deps';
import { AppError, InvalidRequest, TooManyRequests } from '../shared/platform/errors';
import { claim, claimInput, claimPageInfo } from '../shared/customers/claims';
import { parseInput } from '../shared/platform/validation';
import { throttledByStatus, withRequestInfo } from './auth';
import { cleanInput } from './clean-input';
import { recordBeforeAnswer } from './routes/route';
import { CLAIM_CSP, claimDonePage, claimPage, claimProblemPage, type ClaimFormState } from './claim-html';

const CLAIM_PATH = '/v1/claims/:token';

/**
 * The claim link of the invitation email, opened in a browser: the same address as the JSON
 * API. A GET that prefers HTML gets the page, a form POST (urlencoded) gets the result page; any
 * other request goes on to the JSON routes in routes.ts, unchanged for programs. Mounted before the
 * /v1 JSON-only body check, since an HTML form cannot send JSON.
 *
 * No sign-in: the single-use token in the address is the authority, so a forged cross-site form
 * would need the token itself (the forms carry it in their action). A GET never uses the token
 * (mail scanners open links); only a POST does. Unknown tokens count against the claim throttle,
 * as on the JSON routes.
 */
export function claimPages(deps: Deps): Router {
  const r = Router();
  const guard = throttledByStatus(deps.authThrottle, 'claim_token', [404]);
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });

  const htmlGet: RequestHandler = (req, res, next) => {
    res.vary('Accept');
    if (req.accepts(['application/json', 'text/html']) !== 'text/html') return next('route');
    next();
  };
  const formPost: RequestHandler = (req, _res, next) => {
    if (!req.is('application/x-www-form-urlencoded')) return next('route');
    next();
  };

  r.get(CLAIM_PATH, htmlGet, cleanInput, withRequestInfo, guard, async (req, res) => {
    const token = tokenOf(req);
    send(res, 200, claimPage(actionFor(token), await claimPageInfo(deps, token)));
  });

  r.post(CLAIM_PATH, formPost, withRequestInfo, guard, form, cleanInput, async (req, res) => {
    const token = tokenOf(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    // A claim made on the page is audited like the JSON route's (the token is never recorded).
    let claimedId: string | undefined;
    recordBeforeAnswer(req, res, deps, 'POST /v1/claims/:token', () => ({
      actor: { kind: 'claim_link', id: null },
      action: 'customer.claim',
      targetType: 'customer',
      targetId: claimedId ?? null,
      summary: { fields: Object.keys(body).sort(), choice: String(body.choice), via: 'claim_page' },
    }));
    const typed = typeof body.email === 'string' ? body.email : undefined;
    const again = async (status: number, state: ClaimFormState) =>
      send(res, status, claimPage(actionFor(token), await claimPageInfo(deps, token), state));

    if (body.choice !== 'new_account' && body.choice !== 'import')
      return again(400, { formError: 'Choose one of the two ways below: create a new account, or import into an existing account.' });
    if (body.choice === 'import' && !typed?.trim())
      return again(400, { emailError: 'Enter the email of your existing account.', email: typed });
    let input: ReturnType<typeof claimInput.parse>;
    try {
      input = parseInput(claimInput, body.choice === 'import' ? { choice: 'import', email: typed } : { choice: 'new_account' });
    } catch (err) {
      if (!(err instanceof InvalidRequest)) throw err;
      return again(400, { emailError: 'Enter the email of your existing account (at most 320 characters).', email: typed });
    }
    const info = await claimPageInfo(deps, token);
    try {
      const done = await claim(deps, token, input);
      claimedId = String(done.customer.id);
      send(res, 201, claimDonePage(done, info.reseller));
    } catch (err) {
      if (err instanceof AppError && err.code === 'contact_mismatch')
        return again(422, {
          emailError: `This is not the email on file for you (${info.customer.email}), so your products cannot be imported into that account. Use that email, or create a new account.`,
          email: typed,
        });
      throw err;
    }
  });

  const pageErrors: ErrorRequestHandler = (err, req, res, next) => {
    // A route of this router failed before it knew the caller wants a page (a path Express cannot
    // decode): a program gets the JSON error, as on the JSON routes.
    const wantsPage =
      req.method === 'POST'
        ? !!req.is('application/x-www-form-urlencoded')
        : req.accepts(['application/json', 'text/html']) === 'text/html';
    if (!wantsPage) return next(err);
    if (err instanceof TooManyRequests) {
      res.set('Retry-After', String(err.retryAfterSeconds));
      return send(res, 429, claimProblemPage('too_many_requests', { retryAfterSeconds: err.retryAfterSeconds }));
    }
    if (err instanceof AppError && [404, 410].includes(err.status)) return send(res, err.status, claimProblemPage(err.code));
    // The input rule (NUL, lone surrogates in the link or the form), or a link that is not valid percent-encoding.
    if (err instanceof InvalidRequest || (err?.status === 400 && !(err instanceof AppError)))
      return send(res, 400, claimProblemPage('invalid_request'));
    if (err?.type === 'entity.too.large' || err?.type === 'parameters.too.many') return send(res, 413, claimProblemPage('too_large'));
    req.log?.error({ err: { message: err?.message, stack: err?.stack }, route: 'claim page' }, 'unhandled error');
    send(res, 500, claimProblemPage('internal_error'));
  };
  r.use(pageErrors);
  return r;
}

const tokenOf = (req: Request) => String(req.params.token);
/** The form posts back to this very address (relative, so it holds behind any host name). */
const actionFor = (token: string) => `/v1/claims/${encodeURIComponent(token)}`;

function send(res: Response, status: number, body: string) {
  if (res.headersSent) return res.end();
  res
    .status(status)
    .type('html')
    .set({
      'Content-Security-Policy': CLAIM_CSP,
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    })
    .send(body);
}
