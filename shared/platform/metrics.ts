import client from 'prom-client';
import type { Queues } from './queues';

/** One registry per running system, so several systems can live in one test process. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const itemsProcessed = new client.Counter({
    name: 'domain_push_items_processed_total',
    help: 'Bulk job items that reached a terminal status, by kind and status',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  const jobDuration = new client.Histogram({
    name: 'domain_push_job_duration_seconds',
    help: 'Wall time from a bulk job starting to it ending, by kind and final status',
    labelNames: ['kind', 'status'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600],
    registers: [registry],
  });
  const queueDepth = new client.Gauge({
    name: 'domain_push_queue_depth',
    help: 'BullMQ jobs (chunks) per queue and state, read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
  });
  const outboxBacklog = new client.Gauge({
    name: 'domain_push_outbox_backlog',
    help: 'Emails in the outbox not yet sent, read at scrape time',
    registers: [registry],
  });
  const emailAmbiguous = new client.Counter({
    name: 'domain_push_email_ambiguous_total',
    help: 'Email sends that got no reply after the whole message went out (maybe delivered; sent at most once more)',
    registers: [registry],
  });
  const webhookDeliveries = new client.Counter({
    name: 'domain_push_webhook_deliveries_total',
    help: 'Webhook requests sent, by outcome (delivered: a 2xx; failed: anything else, retried or given up)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const webhookLag = new client.Histogram({
    name: 'domain_push_webhook_delivery_lag_seconds',
    help: 'From an event being written to its delivery (a 2xx), retries included',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [registry],
  });
  const unlockedDomains = new client.Gauge({
    name: 'domain_push_unlocked_domains',
    help: 'Domains the registry-path ledger shows unlocked for longer than the bound (2 x WORKER_LOCK_MS + RECONCILE_INTERVAL_MS), read at scrape time; 0 when the guarantee holds',
    registers: [registry],
  });
  /** Gauges whose numbers live in a domain's tables, read at scrape time (registered by the composition root). */
  const readers: (() => Promise<void>)[] = [];
  const readAtScrape = (read: () => Promise<void>) => {
    readers.push(read);
  };
  return {
    registry,
    itemsProcessed,
    jobDuration,
    queueDepth,
    outboxBacklog,
    emailAmbiguous,
    webhookDeliveries,
    webhookLag,
    unlockedDomains,
    readers,
    readAtScrape,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Reads the gauges that live elsewhere (queue depth in Redis; the outbox backlog and unlocked
 * domains in Postgres, through the readers the composition root registered), then renders.
 * The platform names no domain: a domain's gauge is read by a function handed in (`readAtScrape`).
 */
// Takes its parts by name rather than `Deps`, which names `Metrics`: no import cycle.
export async function scrapeMetrics(deps: { metrics: Metrics; queues: Queues }) {
  const { metrics } = deps;
  try {
    for (const q of deps.queues.all()) {
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
      for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ queue: q.name, state }, n);
    }
  } catch {
    // Redis down: the last known depths stay; /readyz says why.
  }
  for (const read of metrics.readers) await read();
  return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
}
