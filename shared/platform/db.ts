import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from './config';
import type { Logger } from './logger';

// bigint counts (count(*)) come back as strings by default; our counts fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Knex;

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

export function migrationConfig(): Knex.MigratorConfig {
  return { directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'], tableName: 'knex_migrations' };
}

/**
 * knex prints its warnings (e.g. "Acquire connection error" with a multi-line stack, on every
 * failed connection while Postgres is down) with console.log; routed through pino they stay one
 * JSON line each, the first line of the message as `err`.
 */
export function knexLog(log: Logger): Knex.Config['log'] {
  const line = (m: unknown) => (typeof m === 'string' ? m : String((m as Error)?.message ?? m)).split('\n')[0];
  return {
    warn: (m: unknown) => log.warn({ err: line(m) }, 'database warning'),
    error: (m: unknown) => log.error({ err: line(m) }, 'database error'),
    deprecate: (m: unknown) => log.warn({ err: line(m) }, 'database deprecation'),
    debug: (m: unknown) => log.debug({ detail: line(m) }, 'database debug'),
  };
}

/** knex on a Postgres server: DATABASE_URL, or the embedded one's URL (see embedded-postgres.ts). */
export function createDb(config: Pick<Config, 'DATABASE_URL'>, log?: Logger): Db {
  if (!config.DATABASE_URL) throw new Error('createDb needs a Postgres URL (the embedded server gives one)');
  return knexFactory({
    client: 'pg',
    connection: config.DATABASE_URL,
    pool: { min: 0, max: 10 },
    migrations: migrationConfig(),
    ...(log ? { log: knexLog(log) } : {}),
  });
}

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest(migrationConfig());
}
