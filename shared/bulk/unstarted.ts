import type { Knex } from 'knex';
import { lockChunk } from './locks';
import type { ItemRow } from './model';

/**
 * Unstarted chunks: a chunk nothing has happened to yet is one `bulk_job_chunks` row holding its
 * items' names and reserved ids, not one row per item (migration 20261205100000). Its items are
 * pending; they become item rows, with the reserved ids (so in the order they were submitted), when
 * the chunk is first taken, cancelled or failed. Everything that reads items goes through
 * `jobItems`, which shows both.
 */

/** Item rows per chunk row: what the submit gives, per item, in submission order. */
interface UnstartedItem {
  name: string;
  product?: 'domain' | 'package';
  productId?: number | null;
}

/**
 * Writes a job's chunks (CHUNK_SIZE items each) and their item counters (`pending`), reserving one
 * item id per item from the items' own sequence, in order: ids stay unique and increasing within a
 * job, whatever other jobs reserve meanwhile.
 */
export async function writeUnstartedChunks(trx: Knex.Transaction, jobId: string, items: UnstartedItem[], chunkSize: number): Promise<void> {
  if (items.length === 0) return;
  const allDomains = items.every((i) => (i.product ?? 'domain') === 'domain' && i.productId == null);
  const chunks = Math.ceil(items.length / chunkSize);
  // One statement: each chunk row is a slice of the arrays sent, its ids reserved by the row's own
  // nextval subquery. The rows are written in chunk order, and each subquery reserves its ids in
  // order, so the ids follow submission order. Slicing costs a third less than grouping an unnest
  // of every item (50,000 names: ~85 against ~130 ms, the arrays' transfer included): there is no
  // row per item and no sort.
  await trx.raw(
    `insert into bulk_job_chunks (job_id, chunk, item_ids, names, products, product_ids)
     select ?::uuid, g,
            array(select nextval('bulk_job_items_id_seq') from generate_series(1, least(a.size, cardinality(a.names) - g * a.size))),
            a.names[g * a.size + 1 : (g + 1) * a.size],
            ${allDomains ? 'null, null' : 'a.products[g * a.size + 1 : (g + 1) * a.size], a.product_ids[g * a.size + 1 : (g + 1) * a.size]'}
     from (select ?::int as size, ?::text[] as names, ?::text[] as products, ?::bigint[] as product_ids) a,
          generate_series(0, ?::int - 1) g`,
    [
      jobId,
      chunkSize,
      items.map((i) => i.name),
      allDomains ? [] : items.map((i) => i.product ?? 'domain'),
      allDomains ? [] : (items.map((i) => i.productId ?? null) as Knex.Value),
      chunks,
    ],
  );
  // Each chunk's items are counted pending from the start (the take subtracts them as it writes them).
  await trx.raw(
    `insert into bulk_job_chunk_counts (job_id, chunk, counts)
     select ?, c, jsonb_build_object('pending', least(?::int, ?::int - c * ?::int)) from generate_series(0, ?::int - 1) c`,
    [jobId, chunkSize, items.length, chunkSize, chunks],
  );
}

/** The status and wording unstarted items end with when they are not taken (a cancel, a failed chunk). */
interface EndedAs {
  status: string;
  reason: string;
  message: string;
}

/**
 * Turns an unstarted chunk into item rows, already ended for a cancel or a failed chunk (a take
 * uses `takeUnstarted` instead, and writes each item once with its result); without `endedAs` the
 * rows are `pending`. The caller holds the chunk's lock. Returns how many items it wrote (0 when
 * the chunk had already started).
 */
export async function startChunk(trx: Knex.Transaction, jobId: string, chunk: number, endedAs?: EndedAs): Promise<number> {
  const { rows } = await trx.raw(
    `with c as (delete from bulk_job_chunks where job_id = ? and chunk = ? returning *),
     ins as (
       insert into bulk_job_items (id, job_id, chunk, domain_name, product, product_id, status, reason, message, finished_at)
       select u.id, c.job_id, c.chunk, u.name, coalesce(u.product, 'domain'), u.product_id, ?, ?, ?, ${endedAs ? 'now()' : 'null'}
       from c, unnest(c.item_ids, c.names, c.products, c.product_ids) with ordinality as u(id, name, product, product_id, pos)
       order by u.pos
       returning 1)
     select count(*)::int as n from ins`,
    [jobId, chunk, endedAs?.status ?? 'pending', endedAs?.reason ?? null, endedAs?.message ?? null],
  );
  const n = Number(rows[0].n);
  // The submit counted these items pending; the insert's trigger has just counted them again.
  if (n) await trx.raw(`select bulk_job_chunk_counts_add(?, ?, jsonb_build_object('pending', ?::int))`, [jobId, chunk, -n]);
  return n;
}

/**
 * Takes an unstarted chunk's items as they are, without writing them: the chunk row is deleted and
 * its items come back `fresh` (pending, not rows yet), so that each is inserted once, with its
 * result or as `running` (results.ts `insertItems`). The caller holds the chunk's lock and writes
 * every returned item before it commits.
 */
export async function takeUnstarted(trx: Knex.Transaction, jobId: string, chunk: number): Promise<ItemRow[]> {
  // The submit counted these items pending; each insert's trigger counts them again as written, so
  // they are taken off here, in the same statement (a round trip less per chunk): once per chunk
  // row, in the CTE the items are read from (so it runs, and c is read once).
  const { rows } = await trx.raw(
    `with c as (delete from bulk_job_chunks where job_id = ? and chunk = ? returning *),
     k as materialized (
       select c.*, bulk_job_chunk_counts_add(c.job_id, c.chunk, jsonb_build_object('pending', -cardinality(c.item_ids))) from c)
     select u.id, u.name, coalesce(u.product, 'domain') as product, u.product_id
     from k, unnest(k.item_ids, k.names, k.products, k.product_ids) with ordinality as u(id, name, product, product_id, pos)
     order by u.pos`,
    [jobId, chunk],
  );
  return (rows as { id: string; name: string; product: ItemRow['product']; product_id: string | null }[]).map((r) => ({
    id: Number(r.id),
    job_id: jobId,
    chunk,
    domain_name: r.name,
    product: r.product,
    product_id: r.product_id === null ? null : Number(r.product_id),
    status: 'pending',
    reason: null,
    message: null,
    was_locked: null,
    relocked: null,
    started_at: null,
    finished_at: null,
    fresh: true,
  }));
}

/**
 * Ends up to `maxItems` unstarted items of a job (whole chunks, lowest first, at least one) as
 * `endedAs`, each chunk under its lock; returns how many items it ended.
 */
export async function endUnstarted(db: Knex, jobId: string, endedAs: EndedAs, maxItems = Number.POSITIVE_INFINITY): Promise<number> {
  let ended = 0;
  for (;;) {
    const next = await db('bulk_job_chunks').where({ job_id: jobId }).orderBy('chunk').first('chunk');
    if (!next) return ended;
    ended += await db.transaction(async (trx) => {
      await lockChunk(trx, jobId, next.chunk);
      return startChunk(trx, jobId, Number(next.chunk), endedAs);
    });
    if (ended >= maxItems) return ended;
  }
}

/** The chunks of a job that have not started. */
export async function unstartedChunks(db: Knex, jobId: string): Promise<number[]> {
  return (await db('bulk_job_chunks').where({ job_id: jobId }).orderBy('chunk').pluck('chunk')).map(Number);
}

/**
 * Every item of a job as rows, started or not, in one snapshot (a chunk is either still a chunk
 * row or already item rows, never both): the items list, the CSV and the tests read this.
 */
export function jobItems(db: Knex, jobId: string): Knex.QueryBuilder {
  return db
    .from(
      db.raw(
        `(select id, job_id, chunk, domain_name, product, product_id, status, reason, message, was_locked, relocked,
                 started_at, finished_at
          from bulk_job_items where job_id = ?
          union all
          select u.id, c.job_id, c.chunk, u.name, coalesce(u.product, 'domain'), u.product_id, 'pending', null, null, null, null,
                 null::timestamptz, null::timestamptz
          from bulk_job_chunks c, unnest(c.item_ids, c.names, c.products, c.product_ids) as u(id, name, product, product_id)
          where c.job_id = ?) as items`,
        [jobId, jobId],
      ),
    )
    .select('items.*');
}
