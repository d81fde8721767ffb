import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from './config';
import type { Logger } from './logger';

// bigint counts (count(*)) come back as strings by default; our counts fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Knex;

/** migrations/ beside this file's folder: the TypeScript in a clone, the compiled .js in dist/. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/**
 * The migration files of MIGRATIONS_DIR, in the language this process runs: .ts through tsx, .js
 * compiled (dist/). knex records each migration under its file name, and every database so far
 * has recorded the .ts names, so a compiled migration keeps its .ts name: a database migrated by
 * `npm start` is up to date for the compiled `npm run migrate`, and the other way round (knex's
 * own directory loader would see 20261123100000_core_schema.js as new and the .ts as missing).
 */
export class MigrationFiles implements Knex.MigrationSource<string> {
  constructor(
    readonly dir = MIGRATIONS_DIR,
    readonly ext = path.extname(__filename),
  ) {}

  async getMigrations(): Promise<string[]> {
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith(this.ext) && !f.endsWith(`.d${this.ext}`))
      .sort();
  }

  getMigrationName(file: string): string {
    return `${file.slice(0, -this.ext.length)}.ts`;
  }

  async getMigration(file: string): Promise<Knex.Migration> {
    return require(path.join(this.dir, file));
  }
}

export function migrationConfig(): Knex.MigratorConfig {
  return { migrationSource: new MigrationFiles(), tableName: 'knex_migrations' };
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
