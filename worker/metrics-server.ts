import http from 'node:http';
import type { Deps } from '../shared/platform/deps';
import { scrapeMetrics } from '../shared/platform/metrics';
import { safeEqual } from '../shared/platform/secrets';

/**
 * A worker started on its own (npm run start:worker) counts the items it processes and the jobs it
 * ends; this serves those counters at /metrics (and /healthz) for Prometheus to scrape.
 */
export function startMetricsServer(deps: Deps, port: number): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const token = deps.config.METRICS_TOKEN;
    if (req.url === '/metrics' && token && !safeEqual(req.headers.authorization ?? '', `Bearer ${token}`)) {
      res.writeHead(401).end(); // a separate port, but the same rule as the API's: METRICS_TOKEN when set
    } else if (req.url === '/metrics') {
      const scraped = await scrapeMetrics(deps).catch(() => null);
      if (!scraped) return res.writeHead(503).end();
      res.writeHead(200, { 'content-type': scraped.contentType }).end(scraped.body);
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(port, () => resolve(server)));
}
