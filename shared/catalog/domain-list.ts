import { domainToAscii, domainToUnicode, mapDomainText } from './punycode';

/**
 * Domain names and domain lists: the one reading of both that the server, the CLI and the console
 * (bundled by Vite) share, so the same list gives the same names and the same errors everywhere.
 * Pure: no Node-only imports (IDNA is ./punycode.ts, not node:url).
 */

// ---------------------------------------------------------------------------------------------
// One name

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is "every ASCII character", so it starts at NUL on purpose
const ASCII = /^[\x00-\x7f]*$/;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

/**
 * A name already in canonical form (lowercase ASCII, valid labels and TLD, no trailing dot, no
 * `xn--` label to check): what the full check below would return unchanged. Submit normalizes up
 * to 50,000 names per request, and nearly all arrive like this; one regex instead of a dozen
 * string steps per name.
 */
const CANONICAL = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Lowercases, strips a trailing dot and converts IDNs to punycode, then checks the syntax. */
export function normalizeDomainName(input: unknown): NameCheck {
  if (typeof input === 'string' && input.length <= 253 && CANONICAL.test(input) && !input.includes('xn--'))
    return { ok: true, name: input };
  return checkDomainName(input);
}

/** The full normalization and check (exported so tests can hold the fast path to it). */
export function checkDomainName(input: unknown): NameCheck {
  if (typeof input !== 'string') return { ok: false, reason: 'not a string' };
  const trimmed = input.trim();
  // ASCII is only lowercased; anything else is mapped as UTS #46 does (full-width forms, ideographic dots, case).
  let raw = ASCII.test(trimmed) ? trimmed.toLowerCase() : mapDomainText(trimmed);
  if (raw.endsWith('.')) raw = raw.slice(0, -1);
  if (raw === '') return { ok: false, reason: 'empty' };
  if (/[\s/:@?#]/.test(raw)) return { ok: false, reason: 'contains characters not allowed in a domain name' };
  const ascii = ASCII.test(raw) && !raw.includes('xn--') ? raw : domainToAscii(raw);
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

/** A stored (ASCII) name as people read it: `xn--bcher-kva.example` → `bücher.example`. */
export function displayDomainName(name: string): string {
  return domainToUnicode(name);
}

/** Where an entry was in what the person gave: its 1-based line, and its column in a CSV. */
export interface Where {
  /** 1-based number of the entry in the list (as a `domains` array counts). */
  position: number;
  /** 1-based line of a pasted or uploaded list (absent for a `domains` array). */
  line?: number;
  /** 1-based column of a CSV (absent for plain lists). */
  column?: number;
}

export interface InvalidEntry extends Where {
  value: string;
  reason: string;
}

export interface NameListResult {
  /** Valid names, normalized, each once, in the order first given. */
  names: string[];
  /** Each bad entry, in the order given. */
  invalid: InvalidEntry[];
  /** Names given more than once (after normalization), each reported once. */
  duplicates: string[];
}

/** An entry of a list with the place it came from. */
export interface ListEntry {
  value: unknown;
  line?: number;
  column?: number;
}

/** Validates entries, collapsing duplicates after normalization. */
export function checkListEntries(entries: readonly ListEntry[]): NameListResult {
  const seen = new Set<string>();
  const names: string[] = [];
  const invalid: InvalidEntry[] = [];
  const duplicates = new Set<string>();
  entries.forEach((e, i) => {
    const check = normalizeDomainName(e.value);
    if (!check.ok) {
      invalid.push({
        position: i + 1,
        ...(e.line !== undefined ? { line: e.line } : {}),
        ...(e.column !== undefined ? { column: e.column } : {}),
        value: String(e.value),
        reason: check.reason,
      });
    } else if (seen.has(check.name)) {
      duplicates.add(check.name);
    } else {
      seen.add(check.name);
      names.push(check.name);
    }
  });
  return { names, invalid, duplicates: [...duplicates] };
}

/** Validates an array of names (a `domains` array): positions are 1-based as a person counts. */
export function normalizeNameList(values: readonly unknown[]): NameListResult {
  return checkListEntries(values.map((value) => ({ value })));
}

/** `line 8`, `line 3, column 2`, or `entry 5` for a list without lines. */
export function whereText(w: Where): string {
  if (w.line === undefined) return `entry ${w.position}`;
  return w.column === undefined ? `line ${w.line}` : `line ${w.line}, column ${w.column}`;
}

/** One sentence per bad entry, the same in the API, the CLI, the console, item messages and emails. */
export function invalidEntryText(i: InvalidEntry, maxValue = 100): string {
  const value = i.value.length > maxValue ? `${i.value.slice(0, maxValue)}…` : i.value;
  return `${whereText(i)}: "${value}" is not a valid domain name (${i.reason})`;
}

/** The one-line refusal for bad entries, as the API words it: `2 domain name(s) are not valid (line 2: "bad..name", line 4: "nodot").` */
export function invalidListMessage(invalid: readonly InvalidEntry[], shown = 5): string {
  const cut = (v: string) => (v.length > 40 ? `${v.slice(0, 40)}…` : v);
  const parts = invalid.slice(0, shown).map((i) => `${whereText(i)}: "${cut(i.value)}"`);
  return `${invalid.length} domain name(s) are not valid (${parts.join(', ')}${invalid.length > shown ? ', …' : ''}).`;
}

// ---------------------------------------------------------------------------------------------
// A list

/**
 * How to read a list: `auto` (the default) recognises a headered export, a headerless CSV and a
 * plain list; `text` reads every entry as a name; `csv` reads columns (a header row is recognised;
 * without one, the first column that looks like domains).
 */
export type ListFormat = 'auto' | 'text' | 'csv';

export interface ListSplit {
  /** Non-blank entries, each with its line (and column for a CSV), in the order given. */
  entries: { value: string; line: number; column?: number }[];
  /** How the list was read. */
  format: 'text' | 'csv';
  /** For a CSV: the 1-based column the names were taken from, and its header (null without one). */
  column?: { index: number; header: string | null };
}

export interface ParsedDomainList extends NameListResult, ListSplit {}

/** Header words naming the domain column (compared lowercased, with `_`, `-` and spaces as one space). */
const DOMAIN_HEADERS = new Set(['domain', 'domains', 'domain name', 'domain names', 'domainname', 'fqdn', 'hostname', 'host name']);
/** A weaker header word, used only when no column has one of the above (e.g. `name,status`). */
const NAME_HEADER = 'name';

const headerWord = (cell: string) =>
  cell
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');

/**
 * Looks like a domain (valid or not): no spaces, `@`, `/` or `:`, a dot between two characters,
 * and a last label with a letter. Dates, counts, prices, statuses and emails do not.
 */
export function looksLikeDomain(cell: string): boolean {
  const v = cell.trim().replace(/\.$/, '');
  if (v === '' || /[\s@/:]/.test(v) || !/.\../.test(v)) return false;
  const last = v.slice(v.lastIndexOf('.') + 1);
  return /\p{L}/u.test(last);
}

/**
 * Splits a pasted or uploaded list into entries without judging them (see `parseDomainList`).
 *
 * - A byte-order mark is dropped; lines end with LF, CRLF or CR.
 * - Plain text: names are separated by any run of newlines, commas, semicolons, spaces and tabs
 *   (a spreadsheet column, a row, a sentence-like list); surrounding double quotes are dropped.
 * - A header row (the first non-blank line) naming a domain column (`Domain`, `Domain Name`,
 *   `domain_name`, `domains`, `fqdn`, `hostname`, or else `name`) and holding nothing that looks
 *   like a domain: with one column, the rest is read as plain text; with more (comma, tab or
 *   semicolon separated, RFC 4180 quotes), the names are that column's cells.
 * - Without a header, a table is read as a CSV when every non-blank row has at least two cells,
 *   there are at least two rows (one with `csv`), one column holds mostly things that look like
 *   domains and another column holds nothing that does (dates, statuses...): the names are the
 *   first such domain column. Anything else is plain text, so a typo in a comma-separated list
 *   is reported, never silently dropped as "another column".
 */
export function splitDomainList(text: string, format: ListFormat = 'auto'): ListSplit {
  const clean = text.replace(/^\uFEFF/, '');
  if (format === 'text') return { entries: textEntries(clean), format: 'text' };
  const firstLine = firstNonBlankLine(clean);
  if (!firstLine) return { entries: [], format: 'text' };
  const delimiter = [',', '\t', ';'].find((d) => firstLine.text.includes(d)) ?? ',';
  const header = [...csvRecords(firstLine.text, delimiter)][0]?.cells ?? [];
  const col = headerColumn(header);
  if (col !== undefined) {
    const rest = clean.slice(firstLine.end);
    const after = firstLine.line; // lines before and on the header
    if (header.length === 1) {
      return {
        entries: textEntries(rest).map((e) => ({ ...e, line: e.line + after })),
        format: 'csv',
        column: { index: 1, header: header[0].trim() },
      };
    }
    const entries: ListSplit['entries'] = [];
    for (const r of csvRecords(rest, delimiter)) {
      const value = (r.cells[col] ?? '').trim();
      if (value !== '') entries.push({ value, line: r.line + after, column: col + 1 });
    }
    return { entries, format: 'csv', column: { index: col + 1, header: header[col].trim() } };
  }
  if (firstLine.text.includes(delimiter)) {
    const table = headerlessTable(clean, delimiter, format === 'csv' ? 1 : 2);
    if (table) return table;
  }
  return { entries: textEntries(clean), format: 'text' };
}

/** Splits and checks a list: the names to use, the duplicates, and each bad entry with its line (and column). */
export function parseDomainList(text: string, format: ListFormat = 'auto'): ParsedDomainList {
  const split = splitDomainList(text, format);
  return { ...split, ...checkListEntries(split.entries) };
}

function textEntries(text: string): ListSplit['entries'] {
  const out: ListSplit['entries'] = [];
  text.split(/\r\n|\r|\n/).forEach((row, i) => {
    for (const part of row.split(/[,;\s]+/)) {
      const value = part.replace(/^"(.*)"$/, '$1');
      if (value !== '') out.push({ value, line: i + 1 });
    }
  });
  return out;
}

function firstNonBlankLine(text: string): { text: string; line: number; end: number } | undefined {
  const re = /\r\n|\r|\n|$/g;
  let start = 0;
  let line = 0;
  for (;;) {
    const m = re.exec(text)!;
    line++;
    const row = text.slice(start, m.index);
    const end = m.index + m[0].length;
    if (row.trim() !== '') return { text: row, line, end };
    if (m[0] === '') return undefined;
    start = end;
  }
}

function headerColumn(cells: string[]): number | undefined {
  if (cells.length === 0 || cells.some(looksLikeDomain)) return undefined;
  const words = cells.map(headerWord);
  const strong = words.findIndex((w) => DOMAIN_HEADERS.has(w));
  if (strong !== -1) return strong;
  const weak = words.indexOf(NAME_HEADER);
  return weak === -1 ? undefined : weak;
}

function headerlessTable(text: string, delimiter: string, minRows: number): ListSplit | undefined {
  const rows = [...csvRecords(text, delimiter)].filter((r) => r.cells.some((c) => c.trim() !== ''));
  if (rows.length < minRows || rows.some((r) => r.cells.length < 2)) return undefined;
  const width = Math.max(...rows.map((r) => r.cells.length));
  const stats = Array.from({ length: width }, (_, k) => {
    const cells = rows.map((r) => (r.cells[k] ?? '').trim()).filter((c) => c !== '');
    return { filled: cells.length, domains: cells.filter(looksLikeDomain).length };
  });
  const col = stats.findIndex((s) => s.domains > 0 && s.domains * 2 > s.filled);
  const other = stats.some((s, k) => k !== col && s.filled > 0 && s.domains === 0);
  if (col === -1 || !other) return undefined;
  const entries: ListSplit['entries'] = [];
  for (const r of rows) {
    const value = (r.cells[col] ?? '').trim();
    if (value !== '') entries.push({ value, line: r.line, column: col + 1 });
  }
  return { entries, format: 'csv', column: { index: col + 1, header: null } };
}

/** RFC 4180 records (quotes, doubled quotes, quoted newlines), each with the 1-based line it starts on. */
export function* csvRecords(text: string, delimiter = ','): Generator<{ cells: string[]; line: number }> {
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let startLine = 1;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
        cell += c;
      }
      continue;
    }
    if (c === '"') {
      quoted = true;
      any = true;
    } else if (c === delimiter) {
      cells.push(cell);
      cell = '';
      any = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (any || cell !== '') yield { cells: [...cells, cell], line: startLine };
      cells = [];
      cell = '';
      any = false;
      line++;
      startLine = line;
    } else {
      cell += c;
    }
  }
  if (any || cell !== '') yield { cells: [...cells, cell], line: startLine };
}
