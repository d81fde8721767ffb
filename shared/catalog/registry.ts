import type { Db } from '../platform/db';
import { settleEach } from '../platform/concurrency';
import { CircuitOpen } from '../platform/breaker';
import { retry, type Jitter, type Random, type RetryPolicy } from '../platform/retry';

/**
 * The registry seam: where a domain's transfer lock really lives. The push treats it as external,
 * so lock changes never ride inside the push transaction.
 */
export interface RegistryGateway {
  unlock(domainName: string): Promise<void>;
  lock(domainName: string): Promise<void>;
  /**
   * Optional batch forms, for registries with a bulk call: one round trip for a whole chunk instead
   * of one per domain. They resolve with the domains the registry refused (name → reason) and
   * throw when the call as a whole failed (nothing is known to be done).
   */
  unlockMany?(domainNames: string[]): Promise<Map<string, Error>>;
  lockMany?(domainNames: string[]): Promise<Map<string, Error>>;
}

type RegistryOp = 'lock' | 'unlock';

export interface RegistryCallPolicy {
  /** Per-domain calls in flight when the gateway has no batch form. */
  parallelism: number;
  /** Tries per domain (a batch retries only the domains still refused, or all after a failed call). */
  attempts: number;
  /** The ceiling of the first pause between tries; it doubles after each (platform/retry.ts, full jitter). */
  backoffMs: number;
  /** No pause longer than this (default: the ceiling of the last pause, so only the attempts bound it). */
  capMs?: number;
  /** Default `full`: concurrent chunks meeting the same outage retry at spread instants. */
  jitter?: Jitter;
}

/** The shared retry policy a registry call policy stands for. */
export function retryPolicyOf(policy: RegistryCallPolicy): RetryPolicy {
  return {
    attempts: policy.attempts,
    baseMs: policy.backoffMs,
    factor: 2,
    capMs: policy.capMs ?? policy.backoffMs * 2 ** Math.max(0, policy.attempts - 2),
    jitter: policy.jitter ?? 'full',
  };
}

/** The breaker already failed fast: another try now would too, so the caller backs off instead. */
const worthRetrying = (err: unknown) => !(err instanceof CircuitOpen);

/** Not a failure of the call: the domains the registry still refused, tried again. */
class StillRefused extends Error {}

/**
 * One registry operation over many domains, each tried up to `attempts` times: a batch call per
 * try where the gateway has one, else per-domain calls with `parallelism` in flight. The outcome
 * is per domain, in the order given (the last error for a domain that never succeeded).
 */
export async function registryEach(
  registry: RegistryGateway,
  op: RegistryOp,
  names: string[],
  policy: RegistryCallPolicy,
  opts: { random?: Random; sleep?: (ms: number) => Promise<void> } = {},
): Promise<PromiseSettledResult<void>[]> {
  const retryPolicy = retryPolicyOf(policy);
  const options = { isRetryable: worthRetrying, random: opts.random, sleep: opts.sleep };
  const batch = op === 'lock' ? registry.lockMany : registry.unlockMany;
  if (!batch) {
    return settleEach(names, policy.parallelism, (name) => retry(() => registry[op](name), retryPolicy, options));
  }
  const errors = new Map<string, unknown>();
  let todo = [...new Set(names)];
  if (todo.length) {
    await retry(
      async () => {
        try {
          const refused = await batch.call(registry, todo);
          for (const name of todo) {
            if (refused.has(name)) errors.set(name, refused.get(name));
            else errors.delete(name);
          }
          todo = todo.filter((name) => refused.has(name));
        } catch (err) {
          for (const name of todo) errors.set(name, err);
          throw err;
        }
        if (todo.length) throw new StillRefused();
      },
      retryPolicy,
      { ...options, isRetryable: (err) => err instanceof StillRefused || worthRetrying(err) },
    ).catch(() => undefined); // the outcome is per domain, in `errors`
  }
  return names.map((name) =>
    errors.has(name) ? { status: 'rejected', reason: errors.get(name) } : { status: 'fulfilled', value: undefined },
  );
}

/**
 * Default gateway: the lock is the `domains.locked` column, written in its own transaction (one
 * statement per call, so a batch is one transaction for the whole chunk).
 */
export class DbRegistry implements RegistryGateway {
  constructor(private readonly db: Db) {}

  async unlock(domainName: string): Promise<void> {
    await this.unlockMany([domainName]);
  }

  async lock(domainName: string): Promise<void> {
    await this.lockMany([domainName]);
  }

  unlockMany(domainNames: string[]): Promise<Map<string, Error>> {
    return this.setLocked(domainNames, false);
  }

  lockMany(domainNames: string[]): Promise<Map<string, Error>> {
    return this.setLocked(domainNames, true);
  }

  private async setLocked(domainNames: string[], locked: boolean): Promise<Map<string, Error>> {
    await this.db('domains').whereRaw('name = any(?::text[])', [domainNames]).update({ locked, updated_at: this.db.fn.now() });
    return new Map();
  }
}
