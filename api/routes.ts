import { Router, type Request, type Response } from 'express';
import type { BulkDeps } from '../shared/bulk/kind';
import {
  allowReseller,
  allowResellerInput,
  getPushSettings,
  notificationEmailInput,
  revokeReseller,
  setNotificationEmail,
} from '../shared/accounts/push-settings';
import { createBrand, createBrandInput, listBrands, updateBrand, updateBrandInput } from '../shared/catalog/brands';
import { contactSchema } from '../shared/catalog/profiles';
import {
  addPackageDomain,
  addPackageDomainInput,
  claim,
  claimInfo,
  claimInput,
  createCustomer,
  createCustomerInput,
  createPackage,
  createPackageInput,
  getCustomer,
  getPackage,
  listCustomers,
  listPackages,
  releaseCustomer,
  releaseCustomerInput,
  removePackageDomain,
  updateCustomer,
  updateCustomerInput,
} from '../shared/customers/customers';
import { getDomain, importDomains, importDomainsInput, listDomains, setDomainContact } from '../shared/catalog/domains';
import { cancelJob, resumeJob, suspendJob } from '../shared/bulk/control';
import { rescheduleInput, rescheduleJob } from '../shared/bulk/schedule';
import { submitPush, submitPushInput } from '../shared/push/submit';
import { getJob, itemsCsvFor, listItems, listJobs } from '../shared/bulk/views';
import { listEmails, getEmail } from '../shared/mail/capture';
import { createProfile, createProfileInput, listProfiles } from '../shared/catalog/profiles';
import {
  createReseller,
  createResellerInput,
  listResellers,
  resellerView,
  updateReseller,
  updateResellerInput,
} from '../shared/accounts/resellers';
import { idempotencyKey, parseInput } from '../shared/platform/validation';
import { keyRoutes } from './key-routes';
import { me, requireOperator, requireReseller, submitter, throttledByStatus } from './auth';
import { readBody } from './http-basics';
import { operatorKeys } from '../shared/accounts/api-keys';
import type { JobStreams } from './sse';
import { jobEventsRoute, jobStreams } from './job-events';
import { createSession, createSessionInput, endSession } from '../shared/accounts/sessions';
import { assertSameOrigin, clearSessionCookie, setSessionCookie } from './session-cookie';

type Reply = [status: number, body: unknown];
const send = (fn: (req: Request, res: Response) => Promise<Reply>) => async (req: Request, res: Response) => {
  const [status, body] = await fn(req, res);
  if (status === 204) res.status(204).end();
  else res.status(status).json(body);
};

/** Reads like the API reference: method, path, auth, the one call into shared/. */
export function apiRoutes(deps: BulkDeps, streams: JobStreams = jobStreams(deps)): Router {
  const { db } = deps;
  // ADMIN_API_KEY and, while it is rotated out, ADMIN_API_KEY_PREVIOUS.
  const opKeys = operatorKeys(deps.config, deps.log);
  const operator = requireOperator(db, opKeys, deps.authThrottle);
  const session = { publicUrl: deps.config.PUBLIC_URL, clock: deps.clock };
  const reseller = requireReseller(db, opKeys, session, deps.authThrottle);
  const claimGuard = throttledByStatus(deps.authThrottle, 'claim_token', [404]);
  const r = Router();
  const now = () => deps.clock();
  r.use(keyRoutes(deps));

  // Operator
  r.post(
    '/v1/admin/resellers',
    operator,
    send(async (req) => [201, await createReseller(db, parseInput(createResellerInput, req.body))]),
  );
  r.get(
    '/v1/admin/resellers',
    operator,
    send(async (req) => [200, await listResellers(db, req.query)]),
  );
  r.patch(
    '/v1/admin/resellers/:username',
    operator,
    send(async (req) => [200, await updateReseller(db, String(req.params.username), parseInput(updateResellerInput, req.body))]),
  );
  r.post(
    '/v1/admin/domains/import',
    operator,
    send(async (req) => [201, await importDomains(db, parseInput(importDomainsInput, req.body))]),
  );
  r.get(
    '/v1/admin/emails',
    operator,
    send(async (req) => [200, await listEmails(db, req.query)]),
  );
  r.get(
    '/v1/admin/emails/:id',
    operator,
    send(async (req) => [200, await getEmail(db, String(req.params.id))]),
  );

  // Console sign-in: an API key exchanged for a session cookie (see api/session-cookie.ts). The key
  // is in the body, so the (small) body is read first; the sign-in throttles on the API key counter.
  r.post(
    '/v1/sessions',
    readBody,
    send(async (req, res) => {
      assertSameOrigin(req, deps.config.PUBLIC_URL, { allowMissing: true });
      const attempt = { ip: req.socket.remoteAddress, userAgent: req.get('user-agent') };
      const s = await createSession(deps, parseInput(createSessionInput, req.body).api_key, attempt);
      setSessionCookie(req, res, s.token, deps.config.PUBLIC_URL);
      return [201, { username: s.username, expires_at: s.expires_at }];
    }),
  );
  r.delete(
    '/v1/sessions/current',
    reseller,
    send(async (req, res) => {
      if (res.locals.sessionToken) await endSession(db, res.locals.sessionToken);
      clearSessionCookie(req, res, deps.config.PUBLIC_URL);
      return [204, null];
    }),
  );

  // Reseller: account, domains, profiles, brands, push settings
  r.get(
    '/v1/me',
    reseller,
    send(async (_q, res) => [200, resellerView(me(res))]),
  );
  r.get(
    '/v1/domains',
    reseller,
    send(async (req, res) => [200, await listDomains(db, me(res), req.query)]),
  );
  r.get(
    '/v1/domains/:name',
    reseller,
    send(async (req, res) => [200, await getDomain(db, me(res), String(req.params.name))]),
  );
  r.put(
    '/v1/domains/:name/contact',
    reseller,
    send(async (req, res) => [200, await setDomainContact(db, me(res), String(req.params.name), parseInput(contactSchema, req.body))]),
  );
  r.get(
    '/v1/profiles',
    reseller,
    send(async (req, res) => [200, await listProfiles(db, me(res), req.query)]),
  );
  r.post(
    '/v1/profiles',
    reseller,
    send(async (req, res) => [201, await createProfile(db, me(res).id, parseInput(createProfileInput, req.body))]),
  );
  r.get(
    '/v1/brands',
    reseller,
    send(async (req, res) => [200, await listBrands(db, me(res), req.query)]),
  );
  r.post(
    '/v1/brands',
    reseller,
    send(async (req, res) => [201, await createBrand(db, me(res), parseInput(createBrandInput, req.body))]),
  );
  r.patch(
    '/v1/brands/:id',
    reseller,
    send(async (req, res) => [200, await updateBrand(db, me(res), String(req.params.id), parseInput(updateBrandInput, req.body))]),
  );
  r.get(
    '/v1/push-settings',
    reseller,
    send(async (_q, res) => [200, await getPushSettings(db, me(res))]),
  );
  r.post(
    '/v1/push-settings/allowed-resellers',
    reseller,
    send(async (req, res) => [201, await allowReseller(db, me(res), parseInput(allowResellerInput, req.body).reseller)]),
  );
  r.delete(
    '/v1/push-settings/allowed-resellers/:username',
    reseller,
    send(async (req, res) => {
      await revokeReseller(db, me(res), String(req.params.username));
      return [204, null];
    }),
  );
  r.put(
    '/v1/push-settings/notification-email',
    reseller,
    send(async (req, res) => [200, await setNotificationEmail(db, me(res), parseInput(notificationEmailInput, req.body).email)]),
  );

  // Bulk pushes
  r.post(
    '/v1/bulk-pushes',
    reseller,
    send(async (req, res) => {
      const key = idempotencyKey(req.get('idempotency-key'));
      const result = await submitPush(deps, me(res), parseInput(submitPushInput, req.body), key, submitter(res));
      return [result.kind === 'created' ? 202 : 200, result.body];
    }),
  );
  jobRoutes(r, deps, reseller, '/v1/bulk-pushes', 'push', now, streams);
  jobRoutes(r, deps, reseller, '/v1/jobs', undefined, now, streams);

  // Customers, service packages, release (a bulk job of kind release, viewed under /v1/jobs/:id)
  const p = (req: Request, name: string) => String(req.params[name]);
  r.post(
    '/v1/customers',
    reseller,
    send(async (req, res) => [201, await createCustomer(db, me(res), parseInput(createCustomerInput, req.body))]),
  );
  r.get(
    '/v1/customers',
    reseller,
    send(async (req, res) => [200, await listCustomers(db, me(res), req.query)]),
  );
  r.get(
    '/v1/customers/:id',
    reseller,
    send(async (req, res) => [200, await getCustomer(db, me(res), p(req, 'id'))]),
  );
  r.patch(
    '/v1/customers/:id',
    reseller,
    send(async (req, res) => [200, await updateCustomer(db, me(res), p(req, 'id'), parseInput(updateCustomerInput, req.body))]),
  );
  r.post(
    '/v1/customers/:id/packages',
    reseller,
    send(async (req, res) => [201, await createPackage(db, me(res), p(req, 'id'), parseInput(createPackageInput, req.body))]),
  );
  r.get(
    '/v1/customers/:id/packages',
    reseller,
    send(async (req, res) => [200, await listPackages(db, me(res), p(req, 'id'), req.query)]),
  );
  r.get(
    '/v1/customers/:id/packages/:pid',
    reseller,
    send(async (req, res) => [200, await getPackage(db, me(res), p(req, 'id'), p(req, 'pid'))]),
  );
  r.post(
    '/v1/customers/:id/packages/:pid/domains',
    reseller,
    send(async (req, res) => [
      201,
      await addPackageDomain(db, me(res), p(req, 'id'), p(req, 'pid'), parseInput(addPackageDomainInput, req.body)),
    ]),
  );
  r.delete(
    '/v1/customers/:id/packages/:pid/domains/:domain',
    reseller,
    send(async (req, res) => {
      await removePackageDomain(db, me(res), p(req, 'id'), p(req, 'pid'), p(req, 'domain'));
      return [204, null];
    }),
  );
  r.post(
    '/v1/customers/:id/release',
    reseller,
    send(async (req, res) => [202, await releaseCustomer(deps, me(res), p(req, 'id'), parseInput(releaseCustomerInput, req.body ?? {}))]),
  );
  r.get(
    '/v1/claims/:token',
    claimGuard,
    send(async (req) => [200, await claimInfo(deps, p(req, 'token'))]),
  );
  r.post(
    '/v1/claims/:token',
    claimGuard,
    readBody,
    send(async (req) => [201, await claim(deps, p(req, 'token'), parseInput(claimInput, req.body))]),
  );
  return r;
}

/** The same views for `/v1/jobs` (every kind) and `/v1/bulk-pushes` (push only). */
function jobRoutes(
  r: Router,
  deps: BulkDeps,
  auth: ReturnType<typeof requireReseller>,
  base: string,
  kind: string | undefined,
  now: () => Date,
  streams: JobStreams,
) {
  const id = (req: Request) => String(req.params.id);
  r.get(
    base,
    auth,
    send(async (req, res) => [200, await listJobs(deps, me(res), req.query, kind, now())]),
  );
  r.get(
    `${base}/:id`,
    auth,
    send(async (req, res) => [200, await getJob(deps, me(res), id(req), kind, now())]),
  );
  r.get(`${base}/:id/items`, auth, async (req, res) => {
    // ?format=csv lets a plain download link (which cannot set Accept) get the CSV.
    if (req.query.format === 'csv' || req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      const csv = await itemsCsvFor(deps, me(res), id(req), req.query, kind);
      res.status(200).type('text/csv').attachment(csv.filename);
      for await (const part of csv.rows) if (!res.write(part)) await new Promise((ok) => res.once('drain', ok));
      return res.end();
    }
    res.json(await listItems(deps, me(res), id(req), req.query, kind));
  });
  r.post(
    `${base}/:id/cancel`,
    auth,
    send(async (req, res) => [202, await cancelJob(deps, me(res), id(req), { kind })]),
  );
  r.post(
    `${base}/:id/suspend`,
    auth,
    send(async (req, res) => [202, await suspendJob(deps, me(res), id(req), kind)]),
  );
  r.post(
    `${base}/:id/resume`,
    auth,
    send(async (req, res) => [202, await resumeJob(deps, me(res), id(req), kind)]),
  );
  r.post(
    `${base}/:id/reschedule`,
    auth,
    send(async (req, res) => {
      const job = await rescheduleJob(deps, me(res), id(req), parseInput(rescheduleInput, req.body ?? {}), kind);
      return [200, await getJob(deps, me(res), job.id, kind, now())];
    }),
  );
  r.get(`${base}/:id/events`, auth, jobEventsRoute(deps, streams, kind, now));
}
