import fs from 'node:fs';
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { expect } from 'chai';
import {
  checkDomainName,
  displayDomainName,
  invalidEntryText,
  invalidListMessage,
  type ListFormat,
  looksLikeDomain,
  normalizeDomainName,
  normalizeNameList,
  parseDomainList,
  splitDomainList,
} from '../../shared/catalog/domain-list';
import { punycodeDecode, punycodeEncode } from '../../shared/catalog/punycode';
import { listBody, parseDomainList as cliParse } from '../../cli/domain-list';
import { LIST_CASES } from '../helpers/domain-list-cases';

const ROOT = path.resolve(__dirname, '../..');

/** What a case expects: the names, the duplicates, each bad entry as [line, column, value], how it was read. */
function summary(text: string, format: ListFormat = 'auto') {
  const r = parseDomainList(text, format);
  return {
    names: r.names,
    duplicates: r.duplicates,
    invalid: r.invalid.map((i) => [i.line, i.column ?? null, i.value]),
    format: r.format,
  };
}

describe('domain list: one parser for the server, the CLI and the console', () => {
  describe('the table (also run through all three front ends by test/integration/domain-list-frontends.test.ts)', () => {
    for (const c of LIST_CASES) {
      it(c.title, () => {
        expect(summary(c.text, c.format)).to.deep.equal({
          names: c.names,
          duplicates: c.duplicates ?? [],
          invalid: c.invalid ?? [],
          format: c.read ?? 'text',
        });
      });
    }
  });

  describe('entries, lines and positions', () => {
    it('keeps the 1-based line of each entry, counting blank lines and any newline style (moved from domain-names)', () => {
      expect(splitDomainList('a.example, b.example\r\n\r\nc.example\rd.example\te.example').entries).to.deep.equal([
        { value: 'a.example', line: 1 },
        { value: 'b.example', line: 1 },
        { value: 'c.example', line: 3 },
        { value: 'd.example', line: 4 },
        { value: 'e.example', line: 4 },
      ]);
    });

    it('splits on newlines and commas, trims entries and drops blank ones (moved from domain-names)', () => {
      const values = (t: string) => splitDomainList(t).entries.map((e) => e.value);
      expect(values('a.example\nb.example\r\nc.example, d.example ,e.example\n\n,\n  f.example  ')).to.deep.equal([
        'a.example',
        'b.example',
        'c.example',
        'd.example',
        'e.example',
        'f.example',
      ]);
      expect(values('a.example\tb.example\tc.example\nd.example; e.example f.example\n')).to.have.length(6);
      expect(values('a b.com\nok.example')).to.deep.equal(['a', 'b.com', 'ok.example']);
      expect(values('')).to.deep.equal([]);
      expect(values(' \n , \r\n ')).to.deep.equal([]);
    });

    it('gives each bad entry its position in the list (as the API has always numbered them) besides its line', () => {
      const r = parseDomainList('r-2.example\nbad..name, r-3.example\n-x.com');
      expect(r.invalid.map((i) => [i.position, i.line, i.value])).to.deep.equal([
        [2, 2, 'bad..name'],
        [4, 3, '-x.com'],
      ]);
    });

    it('counts the lines of quoted cells that span lines, so a later row keeps its own line', () => {
      const r = parseDomainList('domain,note\r\nok.example,"two\r\nlines"\r\nbad..name,x\r\n');
      expect(r.invalid.map((i) => [i.line, i.column])).to.deep.equal([[4, 1]]);
    });

    it('says where each bad entry is, in the words every front end uses', () => {
      const [inCsv] = parseDomainList('domain,status\nok.example,a\nfoo..bar,b\n').invalid;
      expect(invalidEntryText(inCsv)).to.equal('line 3, column 1: "foo..bar" is not a valid domain name (label "" is not valid)');
      const [inText] = parseDomainList('ok.example\n\nfoo..bar').invalid;
      expect(invalidEntryText(inText)).to.match(/^line 3: "foo\.\.bar" is not a valid domain name/);
      expect(invalidListMessage(parseDomainList('a..b\nc..d').invalid)).to.equal(
        '2 domain name(s) are not valid (line 1: "a..b", line 2: "c..d").',
      );
    });
  });

  describe('names: case, dots and IDN, the same as Node', () => {
    // Typed forms and what Node's url.domainToASCII (WHATWG URL, UTS #46) makes of them.
    const idn = [
      'bücher.example',
      'BÜCHER.example',
      'xn--bcher-kva.example',
      'XN--BCHER-KVA.EXAMPLE',
      'münchen.de',
      'пример.рф',
      'xn--e1afmkfd.xn--p1ai',
      '例え。jp',
      '日本語。ＪＰ',
      'ｅｘａｍｐｌｅ．ｃｏｍ',
      'faß.de',
      'ΣΑΣ.gr',
      'ελληνικά.gr',
      'İstanbul.tr',
      'ağ.tr',
      '中国.中国',
      '한국.kr',
      'café.com',
      'cafe\u0301.com',
      'ex\u00adample.com',
      'a\u200bb.com',
      '☃.net',
      'xn--ls8h.la',
      'ⅷ.com',
      'ﬁ.com',
      'mañana.com',
      'bücher.xn--bcher-kva.example',
      'Example.COM.',
      'my-shop.example',
    ];
    for (const typed of idn) {
      it(`${JSON.stringify(typed)} gives Node's ASCII name, and reads back`, () => {
        const node = domainToASCII(typed).replace(/\.$/, '');
        const r = normalizeDomainName(typed);
        expect(r, typed).to.deep.equal({ ok: true, name: node });
        // Both ways: the stored name, shown in Unicode and typed again, is the same name.
        if (r.ok) expect(normalizeDomainName(displayDomainName(r.name))).to.deep.equal(r);
      });
    }

    it('refuses what Node refuses: bad punycode, zero-width joiners, U+FFFD, controls', () => {
      for (const bad of [
        'xn--zz.example',
        'xn--a.example',
        'example.xn--a',
        'xn--abc.example',
        'xn--.example',
        'a\u200db.com',
        '\ufffd.com',
        'a\u0080.com',
      ]) {
        expect(domainToASCII(bad), bad).to.equal('');
        expect(normalizeDomainName(bad).ok, bad).to.equal(false);
      }
    });

    it('shows a stored name in Unicode', () => {
      expect(displayDomainName('xn--bcher-kva.example')).to.equal('bücher.example');
      expect(displayDomainName('xn--e1afmkfd.xn--p1ai')).to.equal('пример.рф');
      expect(displayDomainName('plain.example')).to.equal('plain.example');
    });

    it('encodes and decodes RFC 3492 sample strings', () => {
      // RFC 3492 section 7.1 (A) Arabic (Egyptian), (B) Chinese (simplified), (L) 3<nen>B<gumi><kinpachi><sensei>.
      const samples: [string, string][] = [
        ['ليهمابتكلموشعربي؟', 'egbpdaj6bu4bxfgehfvwxn'],
        ['他们为什么不说中文', 'ihqwcrb4cv8a8dqg056pqjye'],
        ['3年B組金八先生', '3B-ww4c5e180e575a65lsy2b'],
      ];
      for (const [u, p] of samples) {
        expect(punycodeEncode(u)).to.equal(p);
        expect(punycodeDecode(p)).to.equal(u);
      }
      expect(punycodeDecode('99999999999999')).to.equal(null);
    });

    it('keeps the fast path and the full check in step for xn-- names', () => {
      for (const n of ['xn--bcher-kva.example', 'example.xn--p1ai', 'example.xn--a', 'xn--zz.example', 'a.xn--e1afmkfd.xn--p1ai']) {
        expect(normalizeDomainName(n), n).to.deep.equal(checkDomainName(n));
      }
    });
  });

  describe('what looks like a domain (how a headerless CSV finds its column)', () => {
    it('names with a dot and a lettered last label do; dates, numbers, prices, emails and words do not', () => {
      for (const yes of ['a.example', 'foo..bar', 'bücher.de', 'Example.COM.', 'x.xn--p1ai'])
        expect(looksLikeDomain(yes), yes).to.equal(true);
      for (const no of ['2025-01-01', '01.02.2025', '12.50', 'active', 'a@b.example', 'https://a.example', '', 'a b.example'])
        expect(looksLikeDomain(no), no).to.equal(false);
    });
  });

  describe('the CLI reads files with it', () => {
    it('reads a .csv file as CSV, sends the text and that format, and keeps each entry’s line', () => {
      const list = cliParse('a.example,x\n', 'auto', 'list.csv');
      expect(list.names).to.deep.equal(['a.example']);
      expect(listBody(list)).to.deep.equal({ domain_list: 'a.example,x\n', domain_list_format: 'csv' });
      const auto = cliParse('\uFEFFa.example\r\n\r\nb.example, c.example\rd.example,\n');
      expect(auto.names).to.deep.equal(['a.example', 'b.example', 'c.example', 'd.example']);
      expect(auto.lines).to.deep.equal([1, 3, 3, 4]);
      expect(listBody(auto)).to.deep.equal({ domain_list: auto.text });
      expect(cliParse('a.example,b.example\n', 'text', 'list.csv').names).to.deep.equal(['a.example', 'b.example']);
    });
  });

  describe('one module, pure, imported by every front end', () => {
    const read = (p: string) => fs.readFileSync(path.join(ROOT, p), 'utf8');
    const importsOf = (src: string) => [...src.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]);

    it('the parser and its punycode import nothing but each other (the console bundles them for the browser)', () => {
      expect(importsOf(read('shared/catalog/domain-list.ts'))).to.deep.equal(['./punycode']);
      expect(importsOf(read('shared/catalog/punycode.ts'))).to.deep.equal([]);
    });

    it('the console’s Move form imports exactly this module and defines no parser of its own', () => {
      const moveForm = read('console/src/pages/MoveForm.tsx');
      const imported = importsOf(moveForm).map((s) => path.resolve(ROOT, 'console/src/pages', s));
      expect(imported).to.include(path.join(ROOT, 'shared/catalog/domain-list'));
      for (const f of fs.readdirSync(path.join(ROOT, 'console/src'), { recursive: true }) as string[]) {
        if (!/\.tsx?$/.test(f)) continue;
        expect(read(path.join('console/src', f)), f).not.to.match(/function\s+(parseDomainList|splitDomainList)\b|csvRecords/);
      }
    });

    it('the server’s submit and the CLI read lists through it', () => {
      expect(importsOf(read('shared/push/submit.ts'))).to.include('../catalog/domain-list');
      expect(importsOf(read('cli/domain-list.ts'))).to.deep.equal(['../shared/catalog/domain-list', '../shared/catalog/domain-list']);
      expect(read('cli/commands.ts')).to.match(/from '\.\/domain-list'/);
    });
  });

  describe('rules the table does not show', () => {
    it('a column headed `name` is the domain column only when no column says domain, fqdn or hostname', () => {
      expect(summary('name,status\nn1.example,ok\nn2.example,failed\n')).to.deep.equal({
        names: ['n1.example', 'n2.example'],
        duplicates: [],
        invalid: [],
        format: 'csv',
      });
      const byHost = parseDomainList('name,hostname\nacme,h1.example\nbeta,h2.example\n');
      expect([byHost.names, byHost.column]).to.deep.equal([['h1.example', 'h2.example'], { index: 2, header: 'hostname' }]);
      expect(parseDomainList('FQDN;owner\nf1.example;x\n').column).to.deep.equal({ index: 1, header: 'FQDN' });
    });

    it('a first row holding a domain is not a header: the word "domain" is then reported as a bad entry', () => {
      expect(summary('domain,d0.example\nd1.example,d2.example\n')).to.deep.equal({
        names: ['d0.example', 'd1.example', 'd2.example'],
        duplicates: [],
        invalid: [[1, null, 'domain']],
        format: 'text',
      });
    });

    it('a header with no rows below it is an empty list, not an error', () => {
      expect(summary('domain\n')).to.deep.equal({ names: [], duplicates: [], invalid: [], format: 'csv' });
      expect(summary('Domain,Status\n\n')).to.deep.equal({ names: [], duplicates: [], invalid: [], format: 'csv' });
    });

    it('double quotes around a plain entry are dropped', () => {
      expect(parseDomainList('"q1.example"\n"q2.example", q3.example\n').names).to.deep.equal(['q1.example', 'q2.example', 'q3.example']);
    });

    it('the first spelling of a name is kept in place; each repeated name is reported once as a duplicate', () => {
      const r = parseDomainList('a.example\nA.EXAMPLE.\nb.example\na.example');
      expect([r.names, r.duplicates]).to.deep.equal([['a.example', 'b.example'], ['a.example']]);
    });

    it('an array of names (the API’s `domains`) is counted by entry, and a non-string is a bad entry, not a crash', () => {
      const r = normalizeNameList(['ok.example', 'bad..x', 42, null]);
      expect(r.names).to.deep.equal(['ok.example']);
      expect(r.invalid.map((i) => invalidEntryText(i))).to.deep.equal([
        'entry 2: "bad..x" is not a valid domain name (label "" is not valid)',
        'entry 3: "42" is not a valid domain name (not a string)',
        'entry 4: "null" is not a valid domain name (not a string)',
      ]);
    });

    it('the refusal names the first five bad entries, then "…"; values are cut at 40 characters there and at 100 per entry', () => {
      const bad = parseDomainList(['a..1', 'a..2', 'a..3', 'a..4', 'a..5', 'a..6', `${'x'.repeat(50)}..y`].join('\n')).invalid;
      expect(invalidListMessage(bad)).to.equal(
        '7 domain name(s) are not valid (line 1: "a..1", line 2: "a..2", line 3: "a..3", line 4: "a..4", line 5: "a..5", …).',
      );
      expect(invalidListMessage(bad.slice(6))).to.equal(`1 domain name(s) are not valid (line 7: "${'x'.repeat(40)}…").`);
      const long = invalidEntryText({ position: 1, value: `${'z'.repeat(120)}..`, reason: 'r' });
      expect(long).to.equal(`entry 1: "${'z'.repeat(100)}…" is not a valid domain name (r)`);
    });
  });
});
