import { isTransientFault } from '../platform/faults';
import { CircuitBreaker, type BreakerOptions } from '../platform/breaker';
import type { RegistryGateway } from './registry';

/** After 5 transient failures in a row the registry is left alone for 2 s, then one call probes it. */
const REGISTRY_BREAKER = { failures: 5, coolDownMs: 2_000 };

/**
 * The registry gateway behind a circuit breaker (one per process): a registry that keeps failing
 * with transient faults (unreachable, timing out) gets no more calls for a cool-down; they fail
 * fast with CircuitOpen, a TransientFault, so the chunk ends its attempt and backs off (its items
 * stay open) instead of hammering a dead registry. A refusal is an answer and does not count.
 */
export class BreakerRegistry implements RegistryGateway {
  readonly breaker: CircuitBreaker;
  unlockMany?: (domainNames: string[]) => Promise<Map<string, Error>>;
  lockMany?: (domainNames: string[]) => Promise<Map<string, Error>>;

  constructor(
    private readonly inner: RegistryGateway,
    opts: Partial<Omit<BreakerOptions, 'name'>> = {},
  ) {
    this.breaker = new CircuitBreaker({ name: 'registry', ...REGISTRY_BREAKER, isFailure: isTransientFault, ...opts });
    const { unlockMany, lockMany } = inner;
    if (unlockMany) this.unlockMany = (names) => this.breaker.run(() => unlockMany.call(inner, names));
    if (lockMany) this.lockMany = (names) => this.breaker.run(() => lockMany.call(inner, names));
  }

  unlock(domainName: string): Promise<void> {
    return this.breaker.run(() => this.inner.unlock(domainName));
  }

  lock(domainName: string): Promise<void> {
    return this.breaker.run(() => this.inner.lock(domainName));
  }
}

/** What the composition root calls where the registry is created: `withCircuitBreaker(registry)`. */
export function withCircuitBreaker(registry: RegistryGateway, opts?: Partial<Omit<BreakerOptions, 'name'>>): RegistryGateway {
  return registry instanceof BreakerRegistry ? registry : new BreakerRegistry(registry, opts);
}
