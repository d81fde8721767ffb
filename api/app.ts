import express, { type Express, type Request, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Deps } from '../shared/platform/deps';
import { Forbidden, InvalidRequest } from '../shared/platform/errors';
import { operatorKeys } from '../shared/accounts/api-keys';
import type { BulkDeps } from '../shared/bulk/kind';
import { scrapeMetrics } from '../shared/platform/metrics';
import { evictionPolicy } from '../shared/platform/redis';
import { outboxSummary } from '../shared/mail/outbox-summary';
import { jsonDepth } from '../shared/platform/validation';
import { requireMetricsToken, requireOperatorOrBasic, withRequestInfo } from './auth';
import { claimPages } from './claim-page';
import { CONSOLE_PATH, consoleRouter } from './console';
import { dashboardRouter, DASHBOARD_PATH } from './dashboard';
import { docsRouter } from './docs';
import { errorHandler, notFoundRoute } from './errors';
import { accessLog, deferBody, requireJsonBody } from './http-basics';
import { cleanInput } from './clean-input';
import { securityHeaders } from './security-headers';
import { MAILBOX_PATH, mailboxRouter } from './mailbox';
import { jobStreams } from './job-events';
import type { JobStreams } from './sse';
import { apiRoutes } from './routes';
import { auditAdminChanges } from './routes/audit';

/** Deeper than any body this API takes; a hostile nesting stops here, before anything walks it. */
const MAX_BODY_DEPTH = 32;

/**
 * Body limits per route: a submit carries up to MAX_DOMAINS_PER_JOB names (about 100 bytes each
 * at worst), the operator's import up to 100,000 rows; every other body is small, and the two
 * routes anyone may call (the console's sign-in, a claim link) take a few fields only.
 */
function bodyLimits(deps: Deps): (req: Request) => number {
  const submit = Math.max(1024 * 1024, deps.config.MAX_DOMAINS_PER_JOB * 100);
  return (req) => {
    const path = `${req.baseUrl}${req.path}`;
    if (req.method === 'POST' && path === '/v1/bulk-pushes') return submit;
    if (req.method === 'POST' && path === '/v1/admin/domains/import') return 25 * 1024 * 1024;
    if (path === '/v1/sessions' || path.startsWith('/v1/claims/')) return 8 * 1024;
    return 64 * 1024;
  };
}

const boundedDepth: RequestHandler = (req, _res, next) => {
  if (req.body && typeof req.body === 'object' && jsonDepth(req.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH)
    throw new InvalidRequest(`The request body is nested deeper than ${MAX_BODY_DEPTH} levels.`, {
      fields: [{ path: 'body', message: `nested deeper than ${MAX_BODY_DEPTH} levels` }],
    });
  next();
};

/** API answers are never sniffed as another type nor cached (a 201 carries an api_key). */
const apiHeaders: RequestHandler = (req, res, next) => {
  if (!req.path.startsWith(DASHBOARD_PATH)) res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
  next();
};

/** bull-board's page: no framing, scripts and styles from itself only (fonts from Google's CDN). */
const dashboardHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
      fontSrc: ["'self'", 'https://fonts.gstatic.com', 'data:'],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  frameguard: { action: 'deny' },
});

/** An operator who should only watch: the dashboard refuses every change (and hides its buttons). */
const readOnly: RequestHandler = (req, _res, next) => {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    throw new Forbidden('dashboard_read_only', 'The dashboard is read-only in this deployment (DASHBOARD_READ_ONLY).');
  next();
};

/**
 * Builds the HTTP app; listening is the caller's business, so tests can use port 0 in-process.
 * Whoever closes its server calls closeApp too, before closing the runtime.
 */
export function createApp(deps: BulkDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(accessLog(deps.log));
  app.use(securityHeaders(deps.config));
  app.use(apiHeaders);
  app.use(withRequestInfo);
  app.use(claimPages(deps)); // the claim link in a browser: HTML and forms, before the JSON-only body check
  app.use('/v1', requireJsonBody);
  // Size now, parsing after authentication (readBody in api/auth.ts): the depth and input rules
  // run on the parsed body; cleanInput runs here too, for the path and the query.
  app.use('/v1', deferBody(bodyLimits(deps), [boundedDepth, cleanInput]));
  app.use(cleanInput);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    // The answer says what is down, never how (hosts, ports, driver messages): those go to the log.
    const checks: Record<string, string> = {};
    try {
      await deps.db.raw('select 1');
      checks.postgres = 'ok';
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'readiness: postgres down');
      checks.postgres = 'down';
    }
    try {
      await deps.redis.ping();
      const policy = await evictionPolicy(deps.redis);
      checks.redis = policy === 'noeviction' ? 'ok' : `wrong maxmemory-policy ${policy} (BullMQ needs noeviction)`;
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'readiness: redis down');
      checks.redis = 'down';
    }
    const ok = Object.values(checks).every((v) => v === 'ok');
    // Informational: email waits out an SMTP outage, so the outbox never makes the system unready.
    const outbox = checks.postgres === 'ok' ? await outboxSummary(deps.db).catch(() => null) : null;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks, outbox });
  });
  app.get('/metrics', requireMetricsToken(deps.config.METRICS_TOKEN, deps.authThrottle), async (_req, res) => {
    const scraped = await scrapeMetrics(deps);
    res.type(scraped.contentType).send(scraped.body);
  });

  const operatorKey = operatorKeys(deps.config, deps.log);
  app.use(
    DASHBOARD_PATH,
    dashboardHeaders,
    requireOperatorOrBasic(operatorKey, deps.authThrottle),
    ...(deps.config.DASHBOARD_READ_ONLY ? [readOnly] : []),
    auditAdminChanges(deps, 'dashboard', DASHBOARD_PATH),
    dashboardRouter(deps.queues.all(), { readOnly: deps.config.DASHBOARD_READ_ONLY }),
  );
  app.use(
    MAILBOX_PATH,
    requireOperatorOrBasic(operatorKey, deps.authThrottle),
    auditAdminChanges(deps, 'mailbox', MAILBOX_PATH),
    mailboxRouter(deps),
  );
  app.use(docsRouter(deps));
  app.use(CONSOLE_PATH, consoleRouter());
  // Kept on the app so a test (or a diagnostics hook) can see how many polls serve how many streams.
  const streams = jobStreams(deps);
  app.locals.jobStreams = streams;
  app.use(apiRoutes(deps, streams));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return app;
}

/**
 * Stops what the app runs beside its requests (the event-stream hub: job polls, credential
 * re-checks, the console-session sweep) and ends its open streams. Call it before the runtime's
 * database closes: a sweep that starts while the pool is being destroyed waits 60 s for a
 * connection that never comes, and that timer holds the process open.
 */
export function closeApp(app: Express): void {
  (app.locals.jobStreams as JobStreams | undefined)?.close();
}
