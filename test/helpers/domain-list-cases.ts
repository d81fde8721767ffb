import type { ListFormat } from '../../shared/catalog/domain-list';

/**
 * The domain-list table: one input each, and what every front end must make of it (the names to
 * push, the duplicates removed, each bad entry as [line, column or null, value], how it was read).
 * test/unit/domain-list.test.ts runs it against the parser; test/integration/domain-list-frontends
 * .test.ts runs it through the API, the CLI and the console's module and compares them.
 */
export interface ListCase {
  title: string;
  text: string;
  format?: ListFormat;
  names: string[];
  duplicates?: string[];
  invalid?: [number, number | null, string][];
  read?: 'text' | 'csv';
}

export const LIST_CASES: ListCase[] = [
  {
    title: 'one name per line',
    text: 'l1.example\nl2.example\nl3.example\n',
    names: ['l1.example', 'l2.example', 'l3.example'],
  },
  {
    title: 'commas, semicolons, spaces and tabs separate names, on one line or several',
    text: 'l1.example,l2.example; l3.example l4.example\tl5.example\n l6.example , ;l7.example',
    names: ['l1.example', 'l2.example', 'l3.example', 'l4.example', 'l5.example', 'l6.example', 'l7.example'],
  },
  {
    title: 'a BOM, CRLF and CR line ends, blank lines',
    text: '\uFEFFl1.example\r\n\r\nl2.example\rl3.example\r\n',
    names: ['l1.example', 'l2.example', 'l3.example'],
  },
  {
    title: 'case and a trailing dot: one spelling per name, and the repeats collapse and are reported',
    text: 'L1.Example\nl1.example.\nL2.EXAMPLE.\nl2.example\nl3.example',
    names: ['l1.example', 'l2.example', 'l3.example'],
    duplicates: ['l1.example', 'l2.example'],
  },
  {
    title: 'IDN: Unicode and punycode spellings of one name are one name, stored in punycode',
    text: 'bücher.example\nXN--BCHER-KVA.EXAMPLE\nпример.рф\nxn--mnchen-3ya.de\n例え。jp',
    names: ['xn--bcher-kva.example', 'xn--e1afmkfd.xn--p1ai', 'xn--mnchen-3ya.de', 'xn--r8jz45g.jp'],
    duplicates: ['xn--bcher-kva.example'],
  },
  {
    title: 'a headered export (Domain, extra columns): the domain column is taken, bad cells by line and column',
    text: 'Domain,Expiry,Status\nl1.example,2026-01-01,active\n"l2.example",2026-02-01,"on hold, pending"\nbad..name,2026-03-01,active\n',
    names: ['l1.example', 'l2.example'],
    invalid: [[4, 1, 'bad..name']],
    read: 'csv',
  },
  {
    title: 'a "Domain Name" column that is not the first, in a semicolon-separated export',
    text: 'Id;Domain Name;Expiry\n1;l1.example;2026-01-01\n2;L2.example.;2026-01-02\n3;nodot;2026-01-03\n',
    names: ['l1.example', 'l2.example'],
    invalid: [[4, 2, 'nodot']],
    read: 'csv',
  },
  {
    title: 'a tab-separated domain_name column (a spreadsheet paste)',
    text: 'customer\tdomain_name\nacme\tl1.example\nbeta\tl2.example\n',
    names: ['l1.example', 'l2.example'],
    read: 'csv',
  },
  {
    title: 'a lone "domain" header, then a plain list',
    text: 'domain\nl1.example\nl2.example, l3.example\n',
    names: ['l1.example', 'l2.example', 'l3.example'],
    read: 'csv',
  },
  {
    title: 'the items CSV of a job fed back in (quoted commas, quotes and line breaks in other columns)',
    text: 'domain,status,message\n"l1.example",failed,"not, here"\nl2.example,skipped,"two\nlines ""quoted"""\n\nl3.example,pushed,\n',
    names: ['l1.example', 'l2.example', 'l3.example'],
    read: 'csv',
  },
  {
    title: 'a headerless CSV: the first column that looks like domains',
    text: '1001,l1.example,2026-01-01\n1002,l2.example,2026-02-01\n1003,-bad-.example,2026-03-01\n',
    names: ['l1.example', 'l2.example'],
    invalid: [[3, 2, '-bad-.example']],
    read: 'csv',
  },
  {
    title: 'a comma-separated list with typos is a list, not a table: every typo is reported by its line',
    text: 'l1.example, l2.example\nnodot, l3.example\nl4.example, foo..bar',
    names: ['l1.example', 'l2.example', 'l3.example', 'l4.example'],
    invalid: [
      [2, null, 'nodot'],
      [3, null, 'foo..bar'],
    ],
  },
  {
    title: 'names that are not names: each reported by its line, never by a count of tokens',
    text: 'l1.example\nhttps://l2.example\n\nuser@l3.example l4.example\n-x.com\nunder_score.com\n',
    names: ['l1.example', 'l4.example'],
    invalid: [
      [2, null, 'https://l2.example'],
      [4, null, 'user@l3.example'],
      [5, null, '-x.com'],
      [6, null, 'under_score.com'],
    ],
  },
  {
    title: 'format text reads every comma-separated cell as a name',
    text: 'l1.example,l2.example\n',
    format: 'text',
    names: ['l1.example', 'l2.example'],
  },
  {
    title: 'format csv takes the domain column of a one-row table without a header',
    text: 'l1.example,2026-01-01,active\n',
    format: 'csv',
    names: ['l1.example'],
    read: 'csv',
  },
];
