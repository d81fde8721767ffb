import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
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

/** Postgres when DATABASE_URL is set; otherwise the embedded PGlite in DATA_DIR (single process). */
export function createDb(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR'>, log?: Logger): Db {
  if (config.DATABASE_URL) {
    return knexFactory({
      client: 'pg',
      connection: config.DATABASE_URL,
      pool: { min: 0, max: 10 },
      migrations: migrationConfig(),
      ...(log ? { log: knexLog(log) } : {}),
    });
  }
  const dir = path.resolve(config.DATA_DIR, 'pglite');
  fs.mkdirSync(dir, { recursive: true });
  return knexFactory({
    client: ClientPgLite as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection: { filename: dir } as Knex.StaticConnectionConfig,
    migrations: migrationConfig(),
  });
}

export function isEmbedded(db: Db): boolean {
  return db.client.config.client !== 'pg';
}

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest(migrationConfig());
}
