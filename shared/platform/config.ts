import { z } from 'zod';
import { parseClusterNodes } from './redis';

const intFrom = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .min(1)
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL starting with ${protocols.join(' or ')}//`,
    )
    .optional();

const schema = z.object({
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: z
    .string()
    .trim()
    .min(1)
    .superRefine((v, ctx) => {
      try {
        parseClusterNodes(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be host:port[,host:port…] (${(err as Error).message})` });
      }
    })
    .optional(),
  SMTP_URL: optionalUrl(['smtp:', 'smtps:']),
  SMTP_FROM: z.string().default('domain-push <no-reply@domain-push.local>'),
  PORT: intFrom(3000, 0, 65535),
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  // The operator key being rotated out: accepted beside ADMIN_API_KEY until it is unset (no window where none works).
  ADMIN_API_KEY_PREVIOUS: z.string().min(16, 'must be at least 16 characters').optional(),
  MAX_DOMAINS_PER_JOB: intFrom(50_000, 1, 1_000_000),
  WORKER_CONCURRENCY: intFrom(2, 1, 64),
  // Chunks in flight across every worker process of the deployment (unset: no cap beyond theirs).
  MAX_CHUNKS_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).optional(),
  CHUNK_SIZE: intFrom(1000, 1, 10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Unset: derived from the deployment's id (shared/platform/deployment.ts) at start.
  QUEUE_PREFIX: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  PUBLIC_URL: z.string().url().optional(),
  SUSPEND_TTL_SECONDS: intFrom(14 * 24 * 3600, 1, 365 * 24 * 3600),
  RECONCILE_INTERVAL_MS: intFrom(30_000, 100, 3_600_000),
  /** How often each worker starts the scheduled jobs whose time has come (how late a start may be). */
  SCHEDULER_INTERVAL_MS: intFrom(1_000, 50, 60_000),
  OUTBOX_INTERVAL_MS: intFrom(2_000, 50, 600_000),
  // Emails one relay sends at once (a hung peer holds one slot, not the outbox).
  MAIL_SEND_CONCURRENCY: intFrom(4, 1, 64),
  // SMTP transport bounds (nodemailer: connection, greeting, socket inactivity).
  SMTP_CONNECTION_TIMEOUT_MS: intFrom(5_000, 100, 600_000),
  SMTP_GREETING_TIMEOUT_MS: intFrom(5_000, 100, 600_000),
  SMTP_SOCKET_TIMEOUT_MS: intFrom(15_000, 100, 600_000),
  // Bounded waits on Postgres (per session of the pool): see docs/faults.md.
  PG_LOCK_TIMEOUT_MS: intFrom(10_000, 0, 3_600_000),
  PG_STATEMENT_TIMEOUT_MS: intFrom(60_000, 0, 3_600_000),
  PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: intFrom(5_000, 0, 3_600_000),
  WORKER_LOCK_MS: intFrom(30_000, 500, 600_000),
  SHUTDOWN_TIMEOUT_MS: intFrom(25_000, 100, 600_000),
  CLAIM_TOKEN_TTL_SECONDS: intFrom(14 * 24 * 3600, 60, 365 * 24 * 3600),
  // Sharing a deployment between tenants (docs/tenancy.md).
  MAX_OPEN_JOBS_PER_RESELLER: intFrom(20, 1, 100_000),
  MAX_OPEN_ITEMS_PER_RESELLER: intFrom(1_000_000, 1, 100_000_000),
  SSE_MAX_STREAMS_PER_KEY: intFrom(10, 1, 100_000),
  SSE_MAX_STREAM_SECONDS: intFrom(300, 1, 24 * 3600),
  SSE_POLL_MS: intFrom(1000, 50, 60_000),
  // Console sessions a key may hold at once; signing in past it ends the oldest.
  SESSIONS_PER_KEY: intFrom(5, 1, 1000),
  // How often an open stream re-checks its credential (sign-out, revocation, expiry end it).
  SSE_AUTH_RECHECK_MS: intFrom(2000, 50, 60_000),
  // How often each API process deletes expired console sessions (of every reseller).
  SESSION_SWEEP_MS: intFrom(600_000, 50, 24 * 3_600_000),
  AUTH_MAX_FAILURES: intFrom(20, 1, 100_000),
  AUTH_FAILURE_WINDOW_SECONDS: intFrom(60, 1, 24 * 3600),
  AUTH_BLOCK_SECONDS: intFrom(300, 1, 7 * 24 * 3600),
  // The audit trail (docs/audit.md): entries older than this are purged by the workers, every AUDIT_PURGE_INTERVAL_MS.
  AUDIT_RETENTION_DAYS: intFrom(400, 1, 36_500),
  AUDIT_PURGE_INTERVAL_MS: intFrom(3_600_000, 1_000, 7 * 24 * 3_600_000),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  DASHBOARD_READ_ONLY: z
    .enum(['true', 'false', '1', '0'], 'must be true or false')
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  // Webhooks (docs/webhooks.md, docs/operations.md).
  NODE_ENV: z.string().optional(),
  WEBHOOK_INTERVAL_MS: intFrom(1_000, 20, 600_000),
  WEBHOOK_TIMEOUT_MS: intFrom(10_000, 50, 120_000),
  WEBHOOK_RETRY_BASE_MS: intFrom(10_000, 10, 3_600_000),
  WEBHOOK_RETRY_CAP_MS: intFrom(3_600_000, 10, 24 * 3_600_000),
  WEBHOOK_MAX_ATTEMPTS: intFrom(12, 1, 100),
  WEBHOOK_DISABLE_AFTER_MS: intFrom(24 * 3_600_000, 100, 30 * 24 * 3_600_000),
  WEBHOOK_CONCURRENCY: intFrom(8, 1, 256),
  WEBHOOK_RATE_PER_SECOND: intFrom(10, 1, 1000),
  WEBHOOK_ALLOW_INSECURE_LOOPBACK: z
    .enum(['true', 'false', '1', '0'], 'must be true or false')
    .transform((v) => v === 'true' || v === '1')
    .optional(),
  WEBHOOK_SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  WEBHOOK_LOG_RETENTION_DAYS: intFrom(30, 1, 3650),
});

export type Config = Readonly<z.infer<typeof schema>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads the environment once; every bad variable is reported, not just the first. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') raw[key] = v;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const config = Object.freeze({ ...parsed.data, ...overrides });
  const problems = crossChecks(config);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** Rules between variables, checked on the final values (overrides included). */
function crossChecks(config: Config): string[] {
  const problems: string[] = [];
  if (config.REDIS_CLUSTER_NODES) {
    if (config.REDIS_URL) problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES, not both');
    // BullMQ's Lua scripts touch several keys of a queue at once; on a cluster they must share one slot.
    // Unset, the prefix is derived from the deployment id and always is one ({push-…}).
    if (config.QUEUE_PREFIX !== undefined && !/\{[^{}]+\}/.test(config.QUEUE_PREFIX)) {
      problems.push(
        `QUEUE_PREFIX: must contain a Redis Cluster hash tag such as {push} when REDIS_CLUSTER_NODES is set (got ${config.QUEUE_PREFIX})`,
      );
    }
  }
  return problems;
}
