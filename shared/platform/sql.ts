import type { Knex } from 'knex';
import { decodeCursor, pageOf, type Page } from './validation';

type Scalar = string | number | boolean | Date | null;

/** One column of an `unnest`: its Postgres element type and its values, one per row. */
type UnnestColumn = readonly [pgType: string, values: readonly Scalar[]];

/**
 * Many rows in one statement: `unnest(?::text[], ?::bigint[]) as alias(a, b)` and its bindings,
 * one array per column. Knex's binding type has no arrays holding nulls (pg sends them as NULL
 * elements), so the cast lives here once; the columns must be equally long, since unnest would pad
 * the short ones with nulls. A column holding one value in every row (a chunk's job id, its status,
 * all nulls) travels as that value once and is filled out by Postgres (`array_fill`): the job id
 * alone was 37 KB of a chunk's item insert, and every byte sent costs the worker (a loopback write)
 * and Postgres (parsing it).
 */
export function unnest(alias: string, columns: Record<string, UnnestColumn>): { sql: string; bindings: Knex.Value[] } {
  const entries = Object.entries(columns);
  const rows = entries[0]?.[1][1].length ?? 0;
  for (const [name, [, values]] of entries) {
    if (values.length !== rows) throw new Error(`unnest column ${name} has ${values.length} values, not ${rows}`);
  }
  const uniform = (values: readonly Scalar[]) => rows > 1 && values.every((v) => v === values[0]);
  return {
    sql: `unnest(${entries
      .map(([, [type, values]]) => (uniform(values) ? `array_fill(?::${type}, array[?::int])` : `?::${type}[]`))
      .join(', ')}) as ${alias}(${entries.map(([name]) => name).join(', ')})`,
    bindings: entries.flatMap(([, [, values]]) => (uniform(values) ? [values[0] as Knex.Value, rows] : [values as unknown as Knex.Value])),
  };
}

/**
 * The key filter to add when joining an `unnest` to a big table (`where t.id = u.id and ${byKey('t.id',
 * 'bigint')}`, bound to the same keys): the planner cannot see into the arrays, and for 1,000 rows
 * it may prefer hashing a sequential scan of the whole table, a cost that grows with the table (a
 * chunk's write took 3x as long at 100,000 domains). `= any(array)` is an index condition, so only
 * the named rows are read however big the table gets.
 */
export function byKey(column: string, pgType: string): string {
  return `${column} = any(?::${pgType}[])`;
}

/** A unique constraint refused the row (SQLSTATE 23505): a race the caller answers, not a fault. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}

/** Where a list is ordered: the column to page on, the row's value of it, and the direction. */
interface PageKey<R> {
  column: string;
  key: (row: R) => string | number;
  /** `desc` lists newest first (jobs, emails); the default is oldest first. */
  order?: 'asc' | 'desc';
}

/**
 * Keyset pagination, the one way every list pages: rows after the cursor's key, `limit + 1` of
 * them to know whether there is a next page without a count. A bad cursor is a 400.
 */
export async function paginate<R, T>(
  query: Knex.QueryBuilder,
  page: { limit: number; cursor?: string },
  by: PageKey<R>,
  view: (row: R) => T,
): Promise<Page<T>> {
  const order = by.order ?? 'asc';
  const after = decodeCursor(page.cursor);
  if (after) query.where(by.column, order === 'asc' ? '>' : '<', after);
  const rows = (await query.orderBy(by.column, order).limit(page.limit + 1)) as R[];
  return pageOf(rows, page.limit, by.key, view);
}

/**
 * A timestamptz column as the text `Date#toISOString` gives for it (UTC, milliseconds, `Z`), for
 * rows that are only printed. Milliseconds are truncated, as the driver's Date parse truncates them.
 */
export function isoMillis(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}
