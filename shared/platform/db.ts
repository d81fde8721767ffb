import path from 'node:path';
import knexFactory, { Knex } from 'knex';
import pg from 'pg';
import type { Config } from './config';

// bigint counts (count(*)) come back as strings by default; our counts fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Knex;

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

export function migrationConfig(): Knex.MigratorConfig {
  return { directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'], tableName: 'knex_migrations' };
}

/** knex on a Postgres server: DATABASE_URL, or the embedded one's URL (see embedded-postgres.ts). */
export function createDb(config: Pick<Config, 'DATABASE_URL'>): Db {
  if (!config.DATABASE_URL) throw new Error('createDb needs a Postgres URL (the embedded server gives one)');
  return knexFactory({
    client: 'pg',
    connection: config.DATABASE_URL,
    pool: { min: 0, max: 10 },
    migrations: migrationConfig(),
  });
}

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest(migrationConfig());
}
