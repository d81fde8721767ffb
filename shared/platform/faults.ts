import type { Logger } from './logger';
import { retry, type RetryPolicy } from './retry';

/**
 * Transient faults of the servers we run on (Postgres, Redis): the work was not done, or not
 * known to be done, and doing it again later is right. Such a fault delays an item; it never
 * becomes the item's result: the chunk attempt ends without using up a retry (processors.ts) and
 * the item stays open. Anything else (a definitive refusal, a bug) is not transient.
 */

/** Thrown to end an attempt that left work undone because of a transient fault: try again later. */
export class TransientFault extends Error {
  override name = 'TransientFault';
}

/** SQLSTATEs that say "the server or the connection failed", or "run it again". */
const PG_TRANSIENT = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '53300', // too_many_connections
  '57P01', // admin_shutdown (terminating connection due to administrator command)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (the database system is starting up / shutting down)
  '58000', // system_error
  '58030', // io_error
]);

const NODE_TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

const MESSAGE_TRANSIENT = [
  /connection terminated/i,
  /connection (is )?closed/i,
  /client has encountered a connection error/i,
  /timeout acquiring a connection/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /terminating connection/i,
  /server closed the connection unexpectedly/i,
  /command timed out/i,
  /reached the max retries per request/i,
  /stream isn't writeable/i,
  /connection is in a broken state/i,
];

export function isTransientFault(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { name?: string; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (e instanceof TransientFault || e.name === 'KnexTimeoutError' || e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.code === 'string' && (PG_TRANSIENT.has(e.code) || NODE_TRANSIENT.has(e.code) || e.code.startsWith('08'))) return true;
  if (typeof e.message === 'string' && MESSAGE_TRANSIENT.some((re) => re.test(e.message as string))) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isTransientFault(x, depth + 1))) return true;
  return isTransientFault(e.cause, depth + 1);
}

/**
 * How a start-up step waits between tries: ceilings of 0.5, 1, 2, 4 s, then 5 s, for ever, with full
 * jitter, so processes that start together during an outage do not come back in step.
 */
export const STARTUP_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 500, factor: 2, capMs: 5_000, jitter: 'full' };

/**
 * Runs a start-up step until it gets past a transient fault (Postgres restarting, Redis away),
 * logging one JSON line per try, instead of letting a process that starts during an outage die
 * with a stack trace. Any other error is thrown at once. `opts` lets a test drive the pauses.
 */
export function untilNoTransientFault<T>(
  log: Pick<Logger, 'warn'>,
  what: string,
  step: () => Promise<T>,
  opts: { sleep?: (ms: number) => Promise<void>; random?: () => number } = {},
): Promise<T> {
  return retry(() => step(), STARTUP_RETRY, {
    ...opts,
    isRetryable: isTransientFault,
    onRetry: (err, nextTry, delayMs) =>
      log.warn({ err: (err as Error).message, attempt: nextTry - 1, retry_in_ms: delayMs }, `${what}: server unavailable, trying again`),
  });
}
