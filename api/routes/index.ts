import { Router } from 'express';
import { operatorKeys } from '../../shared/accounts/api-keys';
import type { BulkDeps } from '../../shared/bulk/kind';
import { requireOperator, requireReseller } from '../auth';
import type { JobStreams } from '../sse';
import { apiKeys } from './api-keys';
import { audit } from './audit';
import { brands } from './brands';
import { bulkPushes } from './bulk-pushes';
import { claims } from './claims';
import { customers } from './customers';
import { domainImport, domains } from './domains';
import { emails } from './emails';
import { jobs } from './jobs';
import { kinds } from './kinds';
import { me } from './me';
import { profiles } from './profiles';
import { pushSettings } from './push-settings';
import { resellers } from './resellers';
import { mount, type Routes } from './route';
import { sessions } from './sessions';
import { webhooks } from './webhooks';

/**
 * The API's route table, one module per resource, in matching order. Each route is its handler
 * beside its OpenAPI operation (api/openapi/operations.ts collects them for the document).
 */
export const ROUTE_TABLES: Routes[] = [
  apiKeys,
  // Operator
  resellers,
  domainImport,
  emails,
  // Console sign-in and the calling reseller
  sessions,
  me,
  // The audit trail: a reseller's own, the operator's of every account
  audit,
  // Reseller: domains, profiles, brands, push settings
  domains,
  profiles,
  brands,
  pushSettings,
  webhooks,
  // Bulk jobs: a push's submit and views, then every kind's views
  bulkPushes,
  jobs,
  kinds,
  // Customers, service packages, release; a claim link
  customers,
  claims,
];

/**
 * The route table as an Express router; `auth` of each route names its guard. `streams` is the
 * app's hub (api/job-events.ts): the caller owns it and closes it, since it runs timers.
 */
export function apiRoutes(deps: BulkDeps, streams: JobStreams): Router {
  // ADMIN_API_KEY and, while it is rotated out, ADMIN_API_KEY_PREVIOUS (a warning line per use of the latter).
  const opKeys = operatorKeys(deps.config, deps.log);
  const session = { publicUrl: deps.config.PUBLIC_URL, clock: deps.clock };
  // Both authenticate from the headers, then read the body (readBody): an anonymous caller costs no parsing.
  const guards = {
    operator: [requireOperator(deps.db, opKeys, deps.authThrottle)],
    reseller: [requireReseller(deps.db, opKeys, session, deps.authThrottle)],
    none: [],
  };
  const ctx = { deps, db: deps.db, now: () => deps.clock(), streams };
  const r = Router();
  for (const table of ROUTE_TABLES) mount(r, table, ctx, guards);
  return r;
}
