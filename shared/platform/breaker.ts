import { TransientFault } from './faults';

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

type BreakerState = 'closed' | 'open' | 'half-open';

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
