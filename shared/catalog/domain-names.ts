import { domainToASCII } from 'node:url';
import { InvalidRequest } from '../platform/errors';
import { clip, MAX_ERROR_ENTRIES } from '../platform/validation';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

/**
 * A name already in canonical form (lowercase ASCII, valid labels and TLD, no trailing dot): what
 * the full check below would return unchanged. Submit normalizes up to 50,000 names per request,
 * and nearly all arrive like this; one regex instead of a dozen string steps per name.
 */
const CANONICAL = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{0,58}[a-z0-9])$/;

/** Lowercases, strips a trailing dot and converts IDNs to punycode, then checks the syntax. */
export function normalizeDomainName(input: unknown): NameCheck {
  if (typeof input === 'string' && input.length <= 253 && CANONICAL.test(input)) return { ok: true, name: input };
  return checkDomainName(input);
}

/** The full normalization and check (exported so tests can hold the fast path to it). */
export function checkDomainName(input: unknown): NameCheck {
  if (typeof input !== 'string') return { ok: false, reason: 'not a string' };
  let raw = input.trim().toLowerCase();
  if (raw.endsWith('.')) raw = raw.slice(0, -1);
  if (raw === '') return { ok: false, reason: 'empty' };
  if (/[\s/:@?#]/.test(raw)) return { ok: false, reason: 'contains characters not allowed in a domain name' };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is "every ASCII character", so it starts at NUL on purpose
  const ascii = /^[\x00-\x7f]*$/.test(raw) ? raw : domainToASCII(raw);
  if (!ascii) return { ok: false, reason: 'not a valid internationalized domain name' };
  if (ascii.length > 253) return { ok: false, reason: 'longer than 253 characters' };
  const labels = ascii.split('.');
  if (labels.length < 2) return { ok: false, reason: 'needs at least two labels (name.tld)' };
  for (const label of labels) {
    if (!LABEL.test(label)) return { ok: false, reason: `label "${label}" is not valid` };
  }
  if (!TLD.test(labels[labels.length - 1])) return { ok: false, reason: 'top-level domain is not valid' };
  return { ok: true, name: ascii };
}

export interface NameListResult {
  names: string[];
  invalid: { position: number; value: string; reason: string }[];
  duplicates: string[];
}

/** Validates a list, collapsing duplicates after normalization; positions are 1-based as a user counts lines. */
export function normalizeNameList(values: unknown[]): NameListResult {
  const seen = new Set<string>();
  const names: string[] = [];
  const invalid: NameListResult['invalid'] = [];
  const duplicates = new Set<string>();
  values.forEach((value, i) => {
    const check = normalizeDomainName(value);
    if (!check.ok) {
      invalid.push({ position: i + 1, value: String(value), reason: check.reason });
    } else if (seen.has(check.name)) {
      duplicates.add(check.name);
    } else {
      seen.add(check.name);
      names.push(check.name);
    }
  });
  return { names, invalid, duplicates: [...duplicates] };
}

/** An entry of a pasted `domain_list` with the 1-based line it came from. */
export interface ListEntry {
  value: string;
  line: number;
}

/**
 * `domain_list` is what people paste: a spreadsheet column (one per line), a row (tabs), or a
 * sentence-like list (commas, semicolons, spaces). Any run of those separates names; blank entries
 * are ignored. Each entry keeps its line so errors can point at it.
 */
export function splitDomainListLines(text: string): ListEntry[] {
  const out: ListEntry[] = [];
  text.split(/\r\n|\r|\n/).forEach((row, i) => {
    for (const value of row.split(/[,;\s]+/)) if (value !== '') out.push({ value, line: i + 1 });
  });
  return out;
}

export function splitDomainList(text: string): string[] {
  return splitDomainListLines(text).map((e) => e.value);
}

/**
 * `invalid_domains` with a bounded body: the first MAX_ERROR_ENTRIES bad entries (values and
 * reasons cut to a sane length) and the total, however long the submitted list was.
 */
export function invalidDomainsError(message: string, invalid: (NameListResult['invalid'][number] & { line?: number })[]): InvalidRequest {
  return new InvalidRequest(
    message,
    {
      invalid: invalid.slice(0, MAX_ERROR_ENTRIES).map((i) => ({ ...i, value: clip(i.value), reason: clip(i.reason) })),
      invalid_count: invalid.length,
    },
    'invalid_domains',
  );
}
