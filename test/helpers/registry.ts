import type { Db } from '../../shared/platform/db';
import { DbRegistry, type RegistryGateway } from '../../shared/catalog/registry';

/**
 * The registry is the one external part we cannot run, so tests use the real database-backed
 * gateway with scripted faults: fail the next N calls for a domain, or make every call slow.
 */
export class ScriptedRegistry implements RegistryGateway {
  private readonly inner: DbRegistry;
  readonly failures = new Map<string, { lock: number; unlock: number }>();
  readonly calls: { op: 'lock' | 'unlock'; domain: string; ok: boolean }[] = [];
  delayMs = 0;

  constructor(db: Db) {
    this.inner = new DbRegistry(db);
  }

  failNext(domain: string, op: 'lock' | 'unlock', times: number) {
    const f = this.failures.get(domain) ?? { lock: 0, unlock: 0 };
    f[op] = times;
    this.failures.set(domain, f);
  }

  private async run(op: 'lock' | 'unlock', domain: string) {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const f = this.failures.get(domain);
    if (f && f[op] > 0) {
      f[op]--;
      this.calls.push({ op, domain, ok: false });
      throw new Error(`registry timeout on ${op} ${domain}`);
    }
    await this.inner[op](domain);
    this.calls.push({ op, domain, ok: true });
  }

  lock(domain: string) {
    return this.run('lock', domain);
  }
  unlock(domain: string) {
    return this.run('unlock', domain);
  }
}
