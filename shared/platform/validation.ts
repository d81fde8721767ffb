import { z } from 'zod';
import { InvalidRequest } from './errors';

/** One place turns zod issues into the spec's 400 invalid_request with the field path. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const at = (path: PropertyKey[]) => [where, ...path.map(String)].join('.');
  // An unknown field is named by its own path, one entry per field, not by the object holding it.
  const all = parsed.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: at([...i.path, k]), message: 'unknown field' }))
      : [{ path: at(i.path), message: i.message }],
  );
  // 50,000 wrong entries must not make a 50,000-entry error: the first ones and the total.
  const problems = all.slice(0, MAX_ERROR_ENTRIES).map((p) => ({ path: clip(p.path), message: clip(p.message) }));
  const shown = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  const more = all.length > problems.length ? ` (and ${all.length - problems.length} more)` : '';
  throw new InvalidRequest(`Invalid ${where}: ${shown}${more}`, {
    fields: problems,
    ...(all.length > problems.length ? { total: all.length } : {}),
  });
}

/** Error bodies are bounded: at most this many entries, each value cut to ERROR_VALUE_CHARS. */
export const MAX_ERROR_ENTRIES = 100;
const ERROR_VALUE_CHARS = 100;
export function clip(value: string, max = ERROR_VALUE_CHARS): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** Database ids are bigints: anything longer than 18 digits cannot be one (and would overflow the cast). */
const DB_ID = /^[0-9]{1,18}$/;
export function isDbId(value: string): boolean {
  return DB_ID.test(value);
}

/** Idempotency-Key header: trimmed, at most 255 characters (it is stored and indexed). */
export function idempotencyKey(raw: string | undefined): string | undefined {
  const key = raw?.trim() || undefined;
  if (key && key.length > 255)
    throw new InvalidRequest('The Idempotency-Key header is longer than 255 characters.', {
      fields: [{ path: 'header.idempotency-key', message: 'at most 255 characters' }],
    });
  return key;
}

/** Depth of a parsed JSON value, iteratively so a hostile nesting cannot blow the stack. */
export function jsonDepth(value: unknown, stopAt = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > stopAt) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/**
 * A free-form JSON object (brand settings, default settings, domain settings) bounded by size and
 * depth, so one tenant's blob cannot fill the memory of the processes that read it back.
 */
function boundedJson(limits: { maxBytes: number; maxDepth: number }) {
  return z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
    if (jsonDepth(v, limits.maxDepth) > limits.maxDepth)
      ctx.addIssue({ code: 'custom', message: `nested deeper than ${limits.maxDepth} levels` });
    else if (Buffer.byteLength(JSON.stringify(v)) > limits.maxBytes)
      ctx.addIssue({ code: 'custom', message: `larger than ${limits.maxBytes} bytes as JSON` });
  });
}
const SETTINGS_LIMITS = { maxBytes: 16 * 1024, maxDepth: 8 };
export const settingsJson = boundedJson(SETTINGS_LIMITS);

/**
 * Names that end up in emails (subjects and greetings): control characters (line breaks, escape
 * sequences, bidi controls) are stripped so a name cannot forge lines or headers.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
export function stripControl(value: string): string {
  return value.replace(CONTROL, ' ').replace(/ {2,}/g, ' ').trim();
}
export const plainName = (max: number) => z.string().trim().transform(stripControl).pipe(z.string().min(1).max(max));

export const email = z.string().trim().toLowerCase().pipe(z.email());
export const username = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9_.-]{1,62}$/, 'must be 2-63 characters: letters, digits, _ . -')
  // company_ids are all digits: a username never is, so a handle is one or the other, never both.
  .regex(/[a-z]/, 'must contain at least one letter (all-digit handles are company_ids)');

export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional(),
  })
  .loose();

function encodeCursor(value: string | number): string {
  return Buffer.from(String(value)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  const v = Buffer.from(cursor, 'base64url').toString();
  if (!DB_ID.test(v))
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

/**
 * Keys that name an object's prototype machinery. A JSON body may carry them as plain keys, but
 * copied into an object (zod, spread, Object.assign) `__proto__` sets the prototype instead of a
 * field: the value would be silently dropped, or worse. Refused wherever they appear.
 */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Where a value breaks the input rule, in parseInput's `fields` shape (`body.settings.theme`). */
interface InputProblem {
  path: string;
  message: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const NUL = /\u0000/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const UNSHOWABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** A path as the error shows it: cut, and the offending characters shown as U+FFFD, never echoed (a pair cut by clip too). */
const shownPath = (path: string) => clip(path).replace(UNSHOWABLE, '\ufffd');

/** What is wrong with one string under the input rule, if anything. */
export function stringProblem(value: string): string | undefined {
  if (NUL.test(value)) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(value)) return 'contains an unpaired surrogate (not valid Unicode)';
  return undefined;
}

/**
 * The one input rule for every route, before any route sees the input: walks a parsed value
 * (query, JSON body, form body, path segments) and names the first place, in document order, that
 * holds a string (or object key) with a NUL or an unpaired surrogate — Postgres cannot store
 * either in text or jsonb, so they used to fail as 500s deep inside — or a prototype key
 * (PROTOTYPE_KEYS), or a number JSON cannot carry (1e309 parses to Infinity and would be stored as
 * null). Iterative, so a hostile nesting cannot blow the stack; pure, so it is unit-tested alone.
 */
export function findInputProblem(value: unknown, where: string): InputProblem | undefined {
  // Each entry is a value to check, or (key set) an object key to check before its value.
  const stack: { v: unknown; path: string; key?: string }[] = [{ v: value, path: where }];
  while (stack.length) {
    const { v, path, key } = stack.pop()!;
    if (key !== undefined) {
      if (PROTOTYPE_KEYS.has(key)) return { path: shownPath(path), message: `the key "${key}" is not accepted` };
      const problem = stringProblem(key);
      if (problem) return { path: shownPath(path), message: `key ${problem}` };
    } else if (typeof v === 'string') {
      const problem = stringProblem(v);
      if (problem) return { path: shownPath(path), message: problem };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path: shownPath(path), message: 'number out of range' };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}.${i}` });
    } else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const at = `${path}.${keys[i]}`;
        stack.push({ v: (v as Record<string, unknown>)[keys[i]], path: at }, { v: undefined, path: at, key: keys[i] });
      }
    }
  }
  return undefined;
}

/**
 * Text from a peer (a registry's error, an SMTP reply) on its way to a text column: a NUL or an
 * unpaired surrogate there would fail the write (Postgres refuses NUL in text, the driver turns a
 * lone surrogate into U+FFFD anyway), so both become U+FFFD. Input from callers is refused
 * instead (findInputProblem); this is for what nobody can refuse.
 */
export function storableText(value: string): string;
export function storableText(value: string | null): string | null;
export function storableText(value: string | null): string | null {
  return value === null ? null : value.replace(UNSHOWABLE, '\ufffd');
}

/** The input rule as the spec's 400 invalid_request, with the same `fields` shape as parseInput. */
export function assertCleanInput(value: unknown, where: string): void {
  const problem = findInputProblem(value, where);
  if (problem)
    throw new InvalidRequest(`Invalid ${where}: ${problem.path}: ${problem.message}`, {
      fields: [{ path: problem.path, message: problem.message }],
    });
}
