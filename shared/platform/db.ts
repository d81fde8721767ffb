import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import type { Config } from './config';

// bigint counts (count(*)) come back as strings by default; our counts fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Knex;

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

export function migrationConfig(): Knex.MigratorConfig {
  return { directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'], tableName: 'knex_migrations' };
}

/** Postgres when DATABASE_URL is set; otherwise the embedded PGlite in DATA_DIR (single process). */
export function createDb(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR'>): Db {
  if (config.DATABASE_URL) {
    return knexFactory({
      client: 'pg',
      connection: config.DATABASE_URL,
      pool: { min: 0, max: 10 },
      migrations: migrationConfig(),
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
