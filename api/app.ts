import express from 'express';
import type { Deps } from '../shared/deps';
import { outboxBacklog } from '../shared/mail/outbox';
import { evictionPolicy } from '../shared/redis';
import { requireOperatorOrBasic } from './auth';
import { dashboardRouter, DASHBOARD_PATH } from './dashboard';
import { errorHandler, notFoundRoute } from './errors';
import { apiRoutes } from './routes';

/** Builds the HTTP app; listening is the caller's business, so tests can use port 0 in-process. */
export function createApp(deps: Deps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
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
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
  app.get('/metrics', async (_req, res) => {
    const { metrics } = deps;
    try {
      for (const q of deps.queues.all()) {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
        for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ queue: q.name, state }, n);
      }
    } catch {
      // Redis down: the last known depths stay; /readyz says why.
    }
    metrics.outboxBacklog.set(await outboxBacklog(deps.db));
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use(DASHBOARD_PATH, requireOperatorOrBasic(deps.config.ADMIN_API_KEY!), dashboardRouter(deps.queues.all()));
  app.use(apiRoutes(deps));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return app;
}
