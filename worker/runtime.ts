import { Worker, type Job } from 'bullmq';
import { purgeAuditEntries } from '../shared/audit/entries';
import type { BulkDeps } from '../shared/bulk/kind';
import { reconcile } from '../shared/bulk/reconcile';
import { attachmentRenderers } from '../shared/bulk/results-attachment';
import { startDueJobs } from '../shared/bulk/schedule';
import { relayOutbox } from '../shared/mail/outbox';
import { QUEUE_NAMES, type ChunkPayload } from '../shared/platform/queues';
import { evictionPolicy, type RedisClient } from '../shared/platform/redis';
import { claimQueuePrefix, databaseFingerprint } from '../shared/platform/deployment';
import { untilNoTransientFault } from '../shared/platform/faults';
import { relayWebhooks } from '../shared/webhooks/relay';
import { onChunkExhausted, processorOf, processorsFor } from './processors';

/** A chunk whose worker died this often (lock lost each time) fails instead of being retried again. */
const MAX_STALLED_COUNT = 5;

export interface WorkerRuntime {
  worker: Worker<ChunkPayload>;
  reconcileNow(): Promise<unknown>;
  relayNow(): Promise<unknown>;
  auditPurgeNow(): Promise<unknown>;
  webhooksNow(): Promise<unknown>;
  stop(): Promise<void>;
}

/** Runs one periodic task at a time; a slow run is never overlapped by the next tick. */
function every(ms: number, task: () => Promise<unknown>, onError: (e: Error) => void) {
  let running: Promise<unknown> | null = null;
  const run = () => {
    if (!running)
      running = task()
        .catch(onError)
        .finally(() => (running = null));
    return running;
  };
  const timer = setInterval(run, ms);
  timer.unref();
  return {
    run,
    stop: async () => {
      clearInterval(timer);
      return running ?? undefined;
    },
  };
}

/**
 * The BullMQ worker plus four pollers: the outbox relay (email), the webhook relay, the reconciler and the scheduler
 * (starts scheduled jobs when their time comes). No poller depends on Redis state, so a flushed
 * Redis cannot stop them.
 */
export async function startWorker(deps: BulkDeps, connection: RedisClient): Promise<WorkerRuntime> {
  const processors = processorsFor(deps.kinds);
  const { config, log } = deps;
  const policy = await evictionPolicy(connection).catch(() => undefined);
  if (policy && policy !== 'noeviction') {
    log.warn({ maxmemory_policy: policy }, 'Redis maxmemory-policy is not noeviction: BullMQ may lose jobs under memory pressure');
  }

  // Never take chunks from a prefix another database owns (waits for Redis if it is away).
  await untilNoTransientFault(log, 'claiming the queue prefix', async () =>
    claimQueuePrefix(connection, config.QUEUE_PREFIX!, await databaseFingerprint(deps.db)),
  );

  // Postgres, not the worker count, bounds what runs well at once: past its cores, more chunks in
  // flight cost each other more than they add. BullMQ's global concurrency caps the deployment's
  // chunks in flight whatever the number of worker processes; each process writes its setting at
  // start (unset removes the cap), so they must all be given the same value.
  await untilNoTransientFault(log, 'setting the cap on chunks in flight', () =>
    config.MAX_CHUNKS_IN_FLIGHT
      ? deps.queues.bulk.setGlobalConcurrency(config.MAX_CHUNKS_IN_FLIGHT)
      : deps.queues.bulk.removeGlobalConcurrency(),
  );

  const worker = new Worker<ChunkPayload>(
    QUEUE_NAMES.bulk,
    async (job: Job<ChunkPayload>, token?: string, signal?: AbortSignal) => {
      // Chunk jobs are named for operators; the payload's kind picks the processor.
      const processor = processorOf(deps.kinds, processors, job);
      if (!processor) throw new Error(`no processor for ${job.name}`);
      return processor(deps, job, token, signal);
    },
    {
      connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: Math.max(500, Math.floor(config.WORKER_LOCK_MS / 2)),
      maxStalledCount: MAX_STALLED_COUNT,
    },
  );
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const exhausted = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
    log.warn({ job_id: job.data?.jobId, chunk: job.data?.chunk, attempt: job.attemptsMade, exhausted, err: err.message }, 'chunk failed');
    if (exhausted) onChunkExhausted(deps, job, err).catch((e) => log.error({ err: e.message }, 'could not fail chunk'));
  });

  const renderers = attachmentRenderers(deps.kinds);
  const relay = every(
    config.OUTBOX_INTERVAL_MS,
    () =>
      relayOutbox({
        db: deps.db,
        mailer: deps.mailer,
        from: config.SMTP_FROM,
        log,
        concurrency: config.MAIL_SEND_CONCURRENCY,
        metrics: deps.metrics,
        renderers,
      }),
    (e) => log.error({ err: e.message }, 'outbox relay failed'),
  );
  // Webhook deliveries (shared/webhooks/relay.ts): leased per endpoint, so every worker may run one.
  if (!config.WEBHOOK_SECRET_KEY)
    log[config.NODE_ENV === 'production' ? 'warn' : 'info'](
      'WEBHOOK_SECRET_KEY is unset: webhook secrets are encrypted with the built-in development key',
    );
  const webhooks = every(
    config.WEBHOOK_INTERVAL_MS,
    async () => {
      // Passes follow each other while they find work: a backlog drains at the receivers' pace, not one pass per tick.
      while ((await relayWebhooks({ db: deps.db, config, log, metrics: deps.metrics })).delivered > 0);
    },
    (e) => log.error({ err: e.message }, 'webhook relay failed'),
  );
  const reconciler = every(
    config.RECONCILE_INTERVAL_MS,
    async () => {
      const report = await reconcile(deps);
      if (Object.values(report).some((n) => n > 0)) log.info(report, 'reconciled');
    },
    (e) => log.error({ err: e.message }, 'reconcile failed'),
  );
  // Scheduled jobs start from Postgres alone: any worker, whatever Redis has lost meanwhile.
  const scheduler = every(
    config.SCHEDULER_INTERVAL_MS,
    () => startDueJobs(deps),
    (e) => log.error({ err: e.message }, 'scheduler failed'),
  );
  // The audit trail's retention (docs/audit.md): the one DELETE the table allows, rows older than AUDIT_RETENTION_DAYS.
  const auditPurge = every(
    config.AUDIT_PURGE_INTERVAL_MS,
    async () => {
      const purged = await purgeAuditEntries(deps.db, config.AUDIT_RETENTION_DAYS);
      if (purged > 0) log.info({ event: 'audit_purged', purged, retention_days: config.AUDIT_RETENTION_DAYS }, 'audit entries purged');
    },
    (e) => log.error({ err: e.message }, 'audit purge failed'),
  );
  await reconciler.run();
  log.info(
    { concurrency: config.WORKER_CONCURRENCY, max_chunks_in_flight: config.MAX_CHUNKS_IN_FLIGHT ?? null, prefix: config.QUEUE_PREFIX },
    'worker started',
  );

  return {
    worker,
    reconcileNow: reconciler.run,
    relayNow: relay.run,
    auditPurgeNow: auditPurge.run,
    webhooksNow: webhooks.run,
    stop: async () => {
      await Promise.all([relay.stop(), webhooks.stop(), reconciler.stop(), scheduler.stop(), auditPurge.stop()]);
      // Stop taking chunks and let the ones in hand finish, within a bound; a cut-off chunk is
      // picked up again as stalled by another worker, without double pushes.
      const closing = worker.close();
      const timedOut = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), config.SHUTDOWN_TIMEOUT_MS).unref()),
      ]);
      if (timedOut) {
        log.warn('worker did not finish its chunks in time; closing anyway');
        await worker.close(true);
      }
    },
  };
}
