import { TransientFault } from './faults';

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
export function ceilingFor(policy: RetryPolicy, attempt: number): number {
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

/** Thrown by an open circuit without calling the peer: a transient fault, so the work backs off. */
export class CircuitOpen extends TransientFault {
  override name = 'CircuitOpen';
}

export interface BreakerOptions {
  /** Named in the CircuitOpen message. */
  name: string;
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** How long an open circuit fails fast before it lets one call through (half-open). */
  coolDownMs: number;
  /** Which errors count as the peer failing (default: all); any other outcome is an answer and closes the count. */
  isFailure?: (err: unknown) => boolean;
  now?: () => number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A small circuit breaker, per process: after `failures` consecutive failures it opens and every
 * call fails fast (CircuitOpen) for `coolDownMs`; then one call goes through (half-open, the
 * others still fail fast): its success closes the circuit, its failure opens it for another cool-down.
 */
export class CircuitBreaker {
  private consecutive = 0;
  private openedAt: number | undefined;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt < this.opts.coolDownMs ? 'open' : 'half-open';
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.probing)) {
      const left = this.openedAt === undefined ? 0 : Math.max(0, this.opts.coolDownMs - (this.now() - this.openedAt));
      throw new CircuitOpen(`${this.opts.name} circuit open after ${this.opts.failures} failures in a row; next try in ${left} ms`);
    }
    const probe = state === 'half-open';
    if (probe) this.probing = true;
    try {
      const value = await fn();
      this.close();
      return value;
    } catch (err) {
      if (!(this.opts.isFailure?.(err) ?? true)) this.close();
      else if (probe || ++this.consecutive >= this.opts.failures) this.openedAt = this.now();
      throw err;
    } finally {
      if (probe) this.probing = false;
    }
  }

  private close() {
    this.consecutive = 0;
    this.openedAt = undefined;
  }
}
