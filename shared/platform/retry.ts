/**
 * The one retry policy of the back end: exponential backoff with a cap and jitter. Without jitter,
 * workers that met the same fault at the same moment (a registry or SMTP outage) come back at the
 * same moments and hit the peer in waves; "full jitter" (AWS architecture blog, "Exponential
 * backoff and jitter") draws each pause uniformly from [0, ceiling], so their retries spread over
 * the whole window. `none` keeps the bare exponential (for a caller that must keep exact steps).
 */
export type Jitter = 'full' | 'none';

export interface RetryPolicy {
  /** Tries in all, the first included (`Infinity`: until it succeeds or is not retryable). */
  attempts: number;
  /** Ceiling of the first pause (after the first failure), in ms. */
  baseMs: number;
  /** The ceiling grows by this factor after each failure. */
  factor: number;
  /** No pause is longer than this, in ms. */
  capMs: number;
  jitter: Jitter;
}

/** A source of uniform numbers in [0, 1): `Math.random` in production, a seeded one in tests. */
export type Random = () => number;

/** The longest pause after failure number `attempt + 1` (attempt 0 = the pause after the first failure). */
function ceilingFor(policy: RetryPolicy, attempt: number): number {
  const n = Math.max(0, Math.floor(attempt));
  const grown = policy.baseMs * policy.factor ** Math.min(n, 64);
  return Math.min(policy.capMs, Number.isFinite(grown) ? grown : policy.capMs);
}

/** The pause, in whole ms, before the try after failure number `attempt + 1`. */
export function delayFor(policy: RetryPolicy, attempt: number, random: Random = Math.random): number {
  const ceiling = ceilingFor(policy, attempt);
  if (policy.jitter === 'none') return Math.round(ceiling);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * ceiling);
}

export interface RetryOptions {
  /** Whether a failure is worth another try (default: every failure is). */
  isRetryable?: (err: unknown) => boolean;
  /** Told before each pause: the failure, the number of the try to come (2 = the first retry), the pause. */
  onRetry?: (err: unknown, nextTry: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: Random;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` until it succeeds, up to `policy.attempts` tries, pausing `delayFor` between them. A
 * failure that is not retryable, or the last one, is thrown as it is. `fn` gets the try's index (0 first).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, opts: RetryOptions = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= policy.attempts || !(opts.isRetryable?.(err) ?? true)) throw err;
      const delay = delayFor(policy, attempt, opts.random);
      opts.onRetry?.(err, attempt + 2, delay);
      await (opts.sleep ?? sleep)(delay);
    }
  }
}
