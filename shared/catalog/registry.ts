import type { Db } from '../platform/db';
import { settleEach } from '../platform/concurrency';

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

export type RegistryOp = 'lock' | 'unlock';

export interface RegistryCallPolicy {
  /** Per-domain calls in flight when the gateway has no batch form. */
  parallelism: number;
  /** Tries per domain (a batch retries only the domains still refused, or all after a failed call). */
  attempts: number;
  /** The first pause between tries; it doubles after each. */
  backoffMs: number;
}

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
): Promise<PromiseSettledResult<void>[]> {
  const batch = op === 'lock' ? registry.lockMany : registry.unlockMany;
  if (!batch) {
    return settleEach(names, policy.parallelism, async (name) => {
      for (let i = 0; ; i++) {
        try {
          return await registry[op](name);
        } catch (err) {
          if (i >= policy.attempts - 1) throw err;
          await pause(policy.backoffMs * 2 ** i);
        }
      }
    });
  }
  const errors = new Map<string, unknown>();
  let todo = [...new Set(names)];
  for (let i = 0; i < policy.attempts && todo.length; i++) {
    if (i > 0) await pause(policy.backoffMs * 2 ** (i - 1));
    try {
      const refused = await batch.call(registry, todo);
      for (const name of todo) {
        if (refused.has(name)) errors.set(name, refused.get(name));
        else errors.delete(name);
      }
      todo = todo.filter((name) => refused.has(name));
    } catch (err) {
      for (const name of todo) errors.set(name, err);
    }
  }
  return names.map((name) =>
    errors.has(name) ? { status: 'rejected', reason: errors.get(name) } : { status: 'fulfilled', value: undefined },
  );
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
