import type { Db } from '../../shared/platform/db';
import { DbRegistry, type RegistryGateway } from '../../shared/catalog/registry';

/**
 * The registry is the one external part we cannot run, so tests use the real database-backed
 * gateway with scripted faults: fail the next N calls for a domain, or make every call slow.
 */
export class ScriptedRegistry implements RegistryGateway {
  protected readonly inner: DbRegistry;
  readonly failures = new Map<string, { lock: number; unlock: number }>();
  readonly calls: { op: 'lock' | 'unlock'; domain: string; ok: boolean }[] = [];
  delayMs = 0;
  private readonly held = new Map<string, Promise<void>>();

  constructor(db: Db) {
    this.inner = new DbRegistry(db);
  }

  failNext(domain: string, op: 'lock' | 'unlock', times: number) {
    const f = this.failures.get(domain) ?? { lock: 0, unlock: 0 };
    f[op] = times;
    this.failures.set(domain, f);
  }

  /**
   * Unlocks of these domains wait until the returned function is called: their chunk stays in a
   * worker's hands, `running`, for as long as a test needs to act on it.
   */
  holdUnlocks(domains: string[]): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    for (const d of domains) this.held.set(d, gate);
    return () => {
      for (const d of domains) this.held.delete(d);
      release();
    };
  }

  protected async heldUnlock(domains: string[]) {
    await Promise.all(domains.map((d) => this.held.get(d)));
  }

  private async run(op: 'lock' | 'unlock', domain: string) {
    if (op === 'unlock') await this.heldUnlock([domain]);
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

/**
 * The same scripted registry with the optional bulk calls (one call per chunk and operation, with
 * refusals per domain), as a registry with a bulk API offers them. `batches` records each call.
 */
export class BatchScriptedRegistry extends ScriptedRegistry {
  readonly batches: { op: 'lock' | 'unlock'; domains: string[] }[] = [];

  unlockMany(domains: string[]) {
    return this.runMany('unlock', domains);
  }
  lockMany(domains: string[]) {
    return this.runMany('lock', domains);
  }

  private async runMany(op: 'lock' | 'unlock', domains: string[]) {
    this.batches.push({ op, domains });
    if (op === 'unlock') await this.heldUnlock(domains);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const refused = new Map<string, Error>();
    for (const domain of domains) {
      const f = this.failures.get(domain);
      if (f && f[op] > 0) {
        f[op]--;
        this.calls.push({ op, domain, ok: false });
        refused.set(domain, new Error(`registry timeout on ${op} ${domain}`));
      }
    }
    const done = domains.filter((d) => !refused.has(d));
    if (done.length) await (op === 'lock' ? this.inner.lockMany(done) : this.inner.unlockMany(done));
    for (const domain of done) this.calls.push({ op, domain, ok: true });
    return refused;
  }
}
