import type { Db } from '../platform/db';

/**
 * The registry seam: where a domain's transfer lock really lives. The push treats it as external,
 * so lock changes never ride inside the push transaction.
 */
export interface RegistryGateway {
  unlock(domainName: string): Promise<void>;
  lock(domainName: string): Promise<void>;
}

/** Default gateway: the lock is the `domains.locked` column, written in its own transaction. */
export class DbRegistry implements RegistryGateway {
  constructor(private readonly db: Db) {}

  async unlock(domainName: string): Promise<void> {
    await this.db('domains').where({ name: domainName }).update({ locked: false, updated_at: this.db.fn.now() });
  }

  async lock(domainName: string): Promise<void> {
    await this.db('domains').where({ name: domainName }).update({ locked: true, updated_at: this.db.fn.now() });
  }
}
