import { type ListFormat, type ParsedDomainList, parseDomainList as parseList } from '../shared/catalog/domain-list';

export type { ListFormat } from '../shared/catalog/domain-list';

/**
 * A list file as the CLI reads it: the one parser of shared/catalog/domain-list.ts, plus what the
 * CLI sends so that the server reads the file exactly as the CLI did (the text itself and the
 * format, CSV for a `.csv` file), and the line of each entry (`lines[position - 1]`).
 */
export interface DomainList extends ParsedDomainList {
  /** The file's text, sent as `domain_list`. */
  text: string;
  /** Sent as `domain_list_format`. */
  requested: ListFormat;
  /** The line of each entry, in order (an entry's `position` indexes it). */
  lines: number[];
}

/** `auto` reads a `.csv` file as CSV; the content decides otherwise (see splitDomainList). */
export function parseDomainList(text: string, format: ListFormat = 'auto', fileName = ''): DomainList {
  const requested = format === 'auto' && /\.csv$/i.test(fileName) ? 'csv' : format;
  const list = parseList(text, requested);
  return { ...list, text, requested, lines: list.entries.map((e) => e.line) };
}

/** The submit body's part for a list file. */
export function listBody(list: DomainList): { domain_list: string; domain_list_format?: ListFormat } {
  return { domain_list: list.text, ...(list.requested === 'auto' ? {} : { domain_list_format: list.requested }) };
}
