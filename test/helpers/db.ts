import knexFactory from 'knex';
import { migrate, migrationConfig, type Db } from '../../shared/platform/db';

export const PG_BASE = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
/** A template a parent process built and owns (test/run-each.ts hands one to each run): cloned here, never built or dropped. */
const GIVEN_TEMPLATE = process.env.TEST_PG_TEMPLATE;
const TEMPLATE = GIVEN_TEMPLATE ?? `dp_tpl_${process.pid}`;
let counter = 0;

function admin() {
  return knexFactory({ client: 'pg', connection: `${PG_BASE}/postgres`, pool: { min: 0, max: 1 } });
}

let template: Promise<void> | undefined;

/**
 * Built once per test run, when the first test database is asked for: every test file clones
 * it, so each gets a fresh, migrated database. A run of unit tests never touches Postgres.
 */
export function createTemplate(): Promise<void> {
  template ??= GIVEN_TEMPLATE ? Promise.resolve() : buildTemplate();
  return template;
}

/** The name of the template this process clones test databases from. */
export function templateName(): string {
  return TEMPLATE;
}

async function buildTemplate(): Promise<void> {
  const a = admin();
  await a.raw(`drop database if exists ${TEMPLATE}`);
  await a.raw(`create database ${TEMPLATE}`);
  await a.destroy();
  const t = knexFactory({ client: 'pg', connection: `${PG_BASE}/${TEMPLATE}`, pool: { min: 0, max: 1 }, migrations: migrationConfig() });
  await migrate(t);
  await t.destroy();
}

export async function dropTemplate(): Promise<void> {
  if (!template || GIVEN_TEMPLATE) return;
  template = undefined;
  const a = admin();
  await a.raw(`drop database if exists ${TEMPLATE}`);
  await a.destroy();
}

export interface TestDb {
  name: string;
  url: string;
  db: Db;
  drop(): Promise<void>;
}

export async function createTestDb(): Promise<TestDb> {
  await createTemplate();
  const name = `dp_test_${process.pid}_${++counter}`;
  const a = admin();
  await a.raw(`create database ${name} template ${TEMPLATE}`);
  await a.destroy();
  const url = `${PG_BASE}/${name}`;
  const db = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 10 }, migrations: migrationConfig() });
  return {
    name,
    url,
    db,
    async drop() {
      await db.destroy();
      const b = admin();
      await b.raw(`drop database if exists ${name} with (force)`);
      await b.destroy();
    },
  };
}
