export type ListFormat = 'auto' | 'text' | 'csv';

/** The names to push and, for each, the line of the file it came from (to point at bad entries). */
export interface DomainList {
  names: string[];
  lines: number[];
  format: 'text' | 'csv';
}

/** First-cell values that mark a header row, e.g. the `domain` column of `domain-push items --csv`. */
const HEADER_WORDS = new Set(['domain', 'domains', 'domain_name', 'domain name', 'name']);

/**
 * Reads a list the way resellers keep them: plain text (one per line, or separated by commas), or
 * CSV whose first column is the domain (a header row is recognised and dropped). `auto` picks CSV
 * for a `.csv` file or a list whose first row starts with a header word, so the output of
 * `items --csv` can be fed back in.
 */
export function parseDomainList(text: string, format: ListFormat = 'auto', fileName = ''): DomainList {
  const clean = text.replace(/^\uFEFF/, '');
  const chosen = format === 'auto' ? detect(clean, fileName) : format;
  return chosen === 'csv' ? fromCsv(clean) : fromText(clean);
}

function detect(text: string, fileName: string): 'text' | 'csv' {
  if (/\.csv$/i.test(fileName)) return 'csv';
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const cell = first.split(',')[0].trim().replace(/^"|"$/g, '').toLowerCase();
  return HEADER_WORDS.has(cell) ? 'csv' : 'text';
}

function fromText(text: string): DomainList {
  const names: string[] = [];
  const lines: number[] = [];
  text.split(/\r?\n|\r/).forEach((line, i) => {
    for (const part of line.split(',')) {
      const name = part.trim();
      if (name) {
        names.push(name);
        lines.push(i + 1);
      }
    }
  });
  return { names, lines, format: 'text' };
}

function fromCsv(text: string): DomainList {
  const names: string[] = [];
  const lines: number[] = [];
  let first = true;
  for (const row of csvRecords(text)) {
    const name = row.cells[0].trim();
    if (first && HEADER_WORDS.has(name.toLowerCase())) {
      first = false;
      continue;
    }
    first = false;
    if (name) {
      names.push(name);
      lines.push(row.line);
    }
  }
  return { names, lines, format: 'csv' };
}

/** RFC 4180 records (quotes, doubled quotes, quoted newlines), each with the line it starts on. */
export function* csvRecords(text: string): Generator<{ cells: string[]; line: number }> {
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
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"') {
      quoted = true;
      any = true;
    } else if (c === ',') {
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
