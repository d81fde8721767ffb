import express from 'express';
import type { BulkDeps } from '../shared/bulk/kind';
import { scrapeMetrics } from '../shared/platform/metrics';
import { evictionPolicy } from '../shared/platform/redis';
import { outboxSummary } from '../shared/mail/outbox-summary';
import { requireOperatorOrBasic } from './auth';
import { CONSOLE_PATH, consoleRouter } from './console';
import { dashboardRouter, DASHBOARD_PATH } from './dashboard';
import { docsRouter } from './docs';
import { errorHandler, notFoundRoute } from './errors';
import { accessLog, requireJsonBody } from './http-basics';
import { MAILBOX_PATH, mailboxRouter } from './mailbox';
import { apiRoutes } from './routes';

/** Builds the HTTP app; listening is the caller's business, so tests can use port 0 in-process. */
export function createApp(deps: BulkDeps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(accessLog(deps.log));
  app.use('/v1', requireJsonBody);
  app.use(express.json({ limit: '25mb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      await deps.db.raw('select 1');
      checks.postgres = 'ok';
    } catch (err) {
      checks.postgres = `down: ${(err as Error).message}`;
    }
    try {
      await deps.redis.ping();
      const policy = await evictionPolicy(deps.redis);
      checks.redis = policy === 'noeviction' ? 'ok' : `wrong maxmemory-policy ${policy} (BullMQ needs noeviction)`;
    } catch (err) {
      checks.redis = `down: ${(err as Error).message}`;
    }
    const ok = Object.values(checks).every((v) => v === 'ok');
    // Informational: email waits out an SMTP outage, so the outbox never makes the system unready.
    const outbox = checks.postgres === 'ok' ? await outboxSummary(deps.db).catch(() => null) : null;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks, outbox });
  });
  app.get('/metrics', async (_req, res) => {
    const scraped = await scrapeMetrics(deps);
    res.type(scraped.contentType).send(scraped.body);
  });

  app.use(DASHBOARD_PATH, requireOperatorOrBasic(deps.config.ADMIN_API_KEY!), dashboardRouter(deps.queues.all()));
  app.use(MAILBOX_PATH, requireOperatorOrBasic(deps.config.ADMIN_API_KEY!), mailboxRouter(deps));
  app.use(docsRouter(deps));
  app.use(CONSOLE_PATH, consoleRouter());
  app.use(apiRoutes(deps));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return app;
}
