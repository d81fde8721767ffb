import type { Knex } from 'knex';
import { z } from 'zod';
import type { Db } from '../platform/db';
import { Conflict, NotFound } from '../platform/errors';
import type { Reseller } from '../accounts/resellers';
import { decodeCursor, isDbId, listQuery, pageOf, parseInput, plainName, settingsJson } from '../platform/validation';

export const createBrandInput = z.strictObject({
  name: plainName(200),
  settings: settingsJson.default({}),
});
export const updateBrandInput = z.strictObject({
  name: plainName(200).optional(),
  settings: settingsJson.optional(),
});

/** A brands row as the queries here select it. */
interface BrandRow {
  id: string | number;
  name: string | null;
  settings: unknown;
  editable: boolean;
  created_by_job_id?: string | null;
  created_at: Date;
}

function brandView(b: BrandRow) {
  return {
    id: String(b.id),
    name: b.name,
    settings: b.settings,
    editable: b.editable,
    copied_from_job: b.created_by_job_id ?? null,
    created_at: b.created_at,
  };
}

export async function listBrands(db: Db, me: Reseller, query: unknown) {
  const q = parseInput(listQuery, query, 'query');
  const after = decodeCursor(q.cursor);
  const rows = await db('brands')
    .where({ reseller_id: me.id })
    .modify((b) => (after ? b.where('id', '>', after) : b))
    .orderBy('id')
    .limit(q.limit + 1);
  return pageOf(rows, q.limit, (r) => r.id, brandView);
}

export async function createBrand(db: Db, me: Reseller, input: z.infer<typeof createBrandInput>) {
  const [row] = await db('brands')
    .insert({ reseller_id: me.id, name: input.name, settings: JSON.stringify(input.settings), editable: true })
    .returning('*');
  return brandView(row);
}

/** A brand copied in by a push is read-only: the gaining reseller makes a new brand to change it. */
export async function updateBrand(db: Db, me: Reseller, id: string, input: z.infer<typeof updateBrandInput>) {
  const row = isDbId(id) ? await db('brands').where({ id, reseller_id: me.id }).first() : undefined;
  if (!row) throw new NotFound('No such brand.');
  if (!row.editable) {
    throw new Conflict(
      'brand_not_editable',
      'This brand came with pushed domains and cannot be edited; create a new brand and assign it instead.',
    );
  }
  const patch: Record<string, unknown> = {};
  if (input.name !== undefined) patch.name = input.name;
  if (input.settings !== undefined) patch.settings = JSON.stringify(input.settings);
  const [updated] = Object.keys(patch).length ? await db('brands').where({ id }).update(patch).returning('*') : [row];
  return brandView(updated);
}

/**
 * One unlabelled, read-only copy per source brand per job, owned by `to` and shared by all the
 * job's domains (a second chunk of the job finds the copies the first made). Returns the copy's id
 * by source brand id.
 */
export async function copyBrandsForJob(trx: Knex.Transaction, to: number, jobId: string, sources: number[]): Promise<Map<number, number>> {
  const map = new Map<number, number>();
  if (sources.length === 0) return map;
  await trx.raw(
    `insert into brands (reseller_id, name, settings, editable, source_brand_id, created_by_job_id)
     select ?, null, b.settings, false, b.id, ? from brands b where b.id = any(?::bigint[])
     on conflict (created_by_job_id, source_brand_id) do nothing`,
    [to, jobId, sources],
  );
  const rows = await trx('brands').where({ created_by_job_id: jobId }).whereIn('source_brand_id', sources).select('id', 'source_brand_id');
  for (const r of rows) map.set(Number(r.source_brand_id), Number(r.id));
  return map;
}
