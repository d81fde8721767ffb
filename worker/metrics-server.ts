import http from 'node:http';
import type { Deps } from '../shared/platform/deps';
import { TooManyRequests } from '../shared/platform/errors';
import { scrapeMetrics } from '../shared/platform/metrics';
import { safeEqual } from '../shared/platform/secrets';
import { requestInfo, secretPrefix } from '../shared/platform/throttle';

const json = (res: http.ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    .end(JSON.stringify({ error: { code, message } }));

/**
 * A worker started on its own (npm run start:worker) counts the items it processes and the jobs it
 * ends; this serves those counters at /metrics (and /healthz) for Prometheus to scrape. The same
 * rule as the API's /metrics: Bearer METRICS_TOKEN only, wrong or missing tokens counted and
 * logged by the shared auth throttle (kind metrics_token, 429 once blocked); unset, 403.
 */
export function startMetricsServer(deps: Deps, port: number): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') {
      const token = deps.config.METRICS_TOKEN;
      if (!token)
        return json(
          res,
          403,
          'metrics_disabled',
          '/metrics is off: set METRICS_TOKEN (at least 16 characters) and scrape with Authorization: Bearer <METRICS_TOKEN>.',
        );
      const ip = req.socket.remoteAddress ?? 'unknown';
      const presented = req.headers.authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
      const allowed = await requestInfo
        .run({ ip, route: () => 'GET /metrics (worker)' }, async () => {
          const missing = { missing: !presented };
          await deps.authThrottle.assertAllowed('metrics_token', ip, missing);
          if (presented && safeEqual(presented, token)) {
            await deps.authThrottle.assertAllowed('metrics_token', ip, missing);
            return true;
          }
          await deps.authThrottle.failed('metrics_token', ip, presented ? { keyPrefix: secretPrefix(presented) } : { missing: true });
          return false;
        })
        .catch((err) => err as Error);
      if (allowed instanceof TooManyRequests)
        return json(res, 429, allowed.code, allowed.message, { 'retry-after': String(allowed.retryAfterSeconds) });
      if (allowed instanceof Error) return json(res, 503, 'unavailable', 'The metrics could not be checked; try again.');
      if (!allowed) return json(res, 401, 'unauthorized', '/metrics needs Authorization: Bearer <METRICS_TOKEN>.');
      const scraped = await scrapeMetrics(deps).catch(() => null);
      if (!scraped) return res.writeHead(503).end();
      res.writeHead(200, { 'content-type': scraped.contentType }).end(scraped.body);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(port, () => resolve(server)));
}
