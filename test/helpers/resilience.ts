import type { ParsedMail } from 'mailparser';
import { jobItems } from '../../shared/bulk/unstarted';
import { parseCsvRecords } from './csv';
import type { TestSystem } from './system';

// One polling helper for the whole suite; re-exported here, where the tests used to find it.
export { waitUntil } from './wait';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the worker's outbox relay to the end `times` times, instead of sleeping through its ticks: a
 * run already under way is awaited first, so at least `times - 1` runs start after this call.
 */
export async function relayRuns(sys: TestSystem, times = 2): Promise<void> {
  if (!sys.worker) throw new Error('relayRuns needs the in-process worker');
  for (let i = 0; i < times; i++) await sys.worker.relayNow();
}

/** Item counts by status, straight from Postgres (the system of record). */
export async function itemCounts(sys: TestSystem, jobId: string): Promise<Record<string, number>> {
  // Started or not: a chunk nothing has happened to yet is one row of names (shared/bulk/unstarted.ts).
  const rows: { status: string; n: string | number }[] = await sys.db
    .from(jobItems(sys.db, jobId).as('i'))
    .groupBy('status')
    .select('status')
    .count('* as n');
  const out: Record<string, number> = { pending: 0, running: 0, pushed: 0, skipped: 0, failed: 0, cancelled: 0 };
  for (const r of rows) out[r.status] = Number(r.n);
  return out;
}

/** Postgres' own clock, so "after the acknowledgment" compares like with like (items' started_at is DB time). */
export async function dbNow(sys: TestSystem): Promise<Date> {
  const res = await sys.db.raw('select clock_timestamp() as now');
  return new Date(res.rows[0].now);
}

/** Every key under this system's queue prefix (SCAN, never KEYS). */
export async function prefixKeys(sys: TestSystem): Promise<string[]> {
  const redis = sys.rt.deps.redis;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${sys.config.QUEUE_PREFIX}*`, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** What a Redis restart without persistence does to this system: its keys are gone (others' are left alone). */
export async function loseRedisData(sys: TestSystem): Promise<number> {
  const keys = await prefixKeys(sys);
  for (let i = 0; i < keys.length; i += 500) await sys.rt.deps.redis.del(...keys.slice(i, i + 500));
  return keys.length;
}

/** Every value stored under the prefix, read with the command that fits its type, as text. */
export async function dumpRedis(sys: TestSystem): Promise<{ key: string; text: string }[]> {
  const redis = sys.rt.deps.redis;
  const out: { key: string; text: string }[] = [];
  for (const key of await prefixKeys(sys)) {
    const type = await redis.type(key);
    let value: unknown;
    if (type === 'string') value = await redis.get(key);
    else if (type === 'hash') value = await redis.hgetall(key);
    else if (type === 'list') value = await redis.lrange(key, '0', '-1');
    else if (type === 'zset') value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else if (type === 'set') value = await redis.smembers(key);
    else if (type === 'stream') value = await redis.xrange(key, '-', '+');
    else if (type === 'none') continue;
    else throw new Error(`unexpected Redis type ${type} for ${key}`);
    out.push({ key, text: `${key} ${JSON.stringify(value)}` });
  }
  return out;
}

/** Every row of every table of the public schema, each as its Postgres text form. */
export async function dumpPostgres(sys: TestSystem): Promise<{ table: string; text: string }[]> {
  const tables: string[] = await sys
    .db('information_schema.tables')
    .where({ table_schema: 'public', table_type: 'BASE TABLE' })
    .pluck('table_name');
  const out: { table: string; text: string }[] = [];
  for (const table of tables) {
    const res = await sys.db.raw(`select t::text as row from "${table}" t`);
    for (const r of res.rows) out.push({ table, text: r.row });
  }
  return out;
}

export function csvAttachment(mail: ParsedMail): Record<string, string>[] {
  const att = mail.attachments.find((a) => a.filename?.endsWith('.csv'));
  if (!att) throw new Error(`no CSV attached to "${mail.subject}"`);
  return parseCsvRecords(att.content.toString('utf8'));
}

export function resultsMails(sys: TestSystem, jobId: string): ParsedMail[] {
  return sys.smtp.messages.filter(
    (m) => (m.subject ?? '').includes('[domain-push]') && (m.text ?? '').includes(`job ${jobId}`) && m.attachments.length > 0,
  );
}
