import { z } from 'zod';
import { InvalidRequest } from './errors';

/** One place turns zod issues into the spec's 400 invalid_request with the field path. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const at = (path: PropertyKey[]) => [where, ...path.map(String)].join('.');
  // An unknown field is named by its own path, one entry per field, not by the object holding it.
  const problems = parsed.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: at([...i.path, k]), message: 'unknown field' }))
      : [{ path: at(i.path), message: i.message }],
  );
  throw new InvalidRequest(`Invalid ${where}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { fields: problems });
}

export const email = z.string().trim().toLowerCase().pipe(z.email());
export const username = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9_.-]{1,62}$/, 'must be 2-63 characters: letters, digits, _ . -');

export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional(),
  })
  .loose();

export function encodeCursor(value: string | number): string {
  return Buffer.from(String(value)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  const v = Buffer.from(cursor, 'base64url').toString();
  if (!/^[0-9]+$/.test(v))
    throw new InvalidRequest('Invalid cursor.', { fields: [{ path: 'query.cursor', message: 'not a cursor this API issued' }] });
  return v;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Fetches limit+1 rows to know whether there is a next page without a count. */
export function pageOf<R, T>(rows: R[], limit: number, key: (r: R) => string | number, view: (r: R) => T): Page<T> {
  const more = rows.length > limit;
  const slice = more ? rows.slice(0, limit) : rows;
  return { items: slice.map(view), next_cursor: more ? encodeCursor(key(slice[slice.length - 1])) : null };
}
