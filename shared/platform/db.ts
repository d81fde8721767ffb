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
const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/**
 * The migration files of MIGRATIONS_DIR, in the language this process runs: .ts through tsx, .js
 * compiled (dist/). knex records each migration under its file name, and every database so far
 * has recorded the .ts names, so a compiled migration keeps its .ts name: a database migrated by
 * `npm start` is up to date for the compiled `npm run migrate`, and the other way round (knex's
 * own directory loader would see 20261123100000_core_schema.js as new and the .ts as missing).
 */
class MigrationFiles implements Knex.MigrationSource<string> {
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
function knexLog(log: Logger): Knex.Config['log'] {
  const line = (m: unknown) => (typeof m === 'string' ? m : String((m as Error)?.message ?? m)).split('\n')[0];
  return {
    warn: (m: unknown) => log.warn({ err: line(m) }, 'database warning'),
    error: (m: unknown) => log.error({ err: line(m) }, 'database error'),
    deprecate: (m: unknown) => log.warn({ err: line(m) }, 'database deprecation'),
    debug: (m: unknown) => log.debug({ detail: line(m) }, 'database debug'),
  };
}

/** The bounded waits of a pooled session (docs/faults.md); 0 turns one off. */
type DbBounds = Partial<Pick<Config, 'PG_LOCK_TIMEOUT_MS' | 'PG_STATEMENT_TIMEOUT_MS' | 'PG_IDLE_IN_TRANSACTION_TIMEOUT_MS'>>;

/**
 * Every session of the app's pools waits a bounded time: a frozen holder (a paused process, a VM
 * pause, a debugger) idle inside its transaction is cut off after the idle-in-transaction timeout,
 * and whoever waits on its locks gives up after the lock timeout with 55P03, a transient fault.
 * Idle-in-transaction < lock timeout, so a waiter usually gets the lock instead of the error; both
 * stay under WORKER_LOCK_MS, so a paused worker costs the others at most about one lease. The
 * defaults are config.ts's; the migrator runs without them (see migrate()).
 */
const DB_BOUNDS_DEFAULTS = {
  PG_LOCK_TIMEOUT_MS: 10_000,
  PG_STATEMENT_TIMEOUT_MS: 60_000,
  PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: 5_000,
} as const;

/**
 * TCP keepalives on the pool's sockets: probes after 10 s of silence, then (Node 22's libuv) every
 * 1 s, 10 of them, so a server or network gone dead is noticed ~20 s after the last traffic, not
 * after the OS default of 2 hours.
 */
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;

/** pg's connection settings for a URL: the bounds sent as startup options, keepalives on. */
function pgConnection(url: string, bounds: DbBounds = {}): Knex.PgConnectionConfig {
  const b = { ...DB_BOUNDS_DEFAULTS, ...definedOnly(bounds) };
  return {
    connectionString: url,
    // Sent in the startup packet: no round trip per connection, and in force before the first query.
    options: [
      `-c lock_timeout=${b.PG_LOCK_TIMEOUT_MS}`,
      `-c statement_timeout=${b.PG_STATEMENT_TIMEOUT_MS}`,
      `-c idle_in_transaction_session_timeout=${b.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS}`,
    ].join(' '),
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
  };
}

function definedOnly(b: DbBounds): DbBounds {
  return Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined));
}

/** knex on a Postgres server: DATABASE_URL, or the embedded one's URL (see embedded-postgres.ts). */
export function createDb(config: Pick<Config, 'DATABASE_URL'> & DbBounds, log?: Logger): Db {
  if (!config.DATABASE_URL) throw new Error('createDb needs a Postgres URL (the embedded server gives one)');
  return knexFactory({
    client: 'pg',
    connection: pgConnection(config.DATABASE_URL, config),
    pool: { min: 0, max: 10 },
    migrations: migrationConfig(),
    ...(log ? { log: knexLog(log) } : {}),
  });
}

/**
 * The migrations run on a session of their own without the statement and lock timeouts of the
 * app's pool: a schema change may rewrite a big table or wait for the app's transactions to end.
 * Idle-in-transaction stays bounded (the migrator never sits idle inside its transaction).
 */
export async function migrate(db: Db): Promise<void> {
  const conn = db.client.config.connection as string | Knex.PgConnectionConfig;
  const url = typeof conn === 'string' ? conn : conn?.connectionString;
  if (!url) {
    await db.migrate.latest(migrationConfig());
    return;
  }
  const migrator = knexFactory({
    ...db.client.config,
    connection: pgConnection(url, { PG_LOCK_TIMEOUT_MS: 0, PG_STATEMENT_TIMEOUT_MS: 0 }),
    pool: { min: 0, max: 1 },
  });
  try {
    await migrator.migrate.latest(migrationConfig());
  } finally {
    await migrator.destroy();
  }
}
