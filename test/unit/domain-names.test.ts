import { expect } from 'chai';
import { checkDomainName, normalizeDomainName, normalizeNameList } from '../../shared/catalog/domain-names';

function nameOf(input: unknown): string {
  const r = normalizeDomainName(input);
  if (!r.ok) throw new Error(`expected "${String(input)}" to be valid, got: ${r.reason}`);
  return r.name;
}

function reasonOf(input: unknown): string {
  const r = normalizeDomainName(input);
  if (r.ok) throw new Error(`expected "${String(input)}" to be refused, got ${r.name}`);
  return r.reason;
}

describe('domain names: normalizeDomainName', () => {
  it('lowercases, trims and drops one trailing dot, so the same domain always has one spelling', () => {
    expect(nameOf('Example.COM')).to.equal('example.com');
    expect(nameOf('  shop.example.net  ')).to.equal('shop.example.net');
    expect(nameOf('Example.com.')).to.equal('example.com');
  });

  it('converts an internationalized name to punycode, whatever its case', () => {
    expect(nameOf('bücher.example')).to.equal('xn--bcher-kva.example');
    expect(nameOf('BÜCHER.example.')).to.equal('xn--bcher-kva.example');
    expect(nameOf('xn--bcher-kva.example')).to.equal('xn--bcher-kva.example');
  });

  it('accepts a punycode top-level domain', () => {
    expect(nameOf('example.xn--p1ai')).to.equal('example.xn--p1ai');
  });

  it('refuses a label longer than 63 characters and accepts one of exactly 63', () => {
    expect(nameOf(`${'a'.repeat(63)}.example`)).to.equal(`${'a'.repeat(63)}.example`);
    expect(reasonOf(`${'a'.repeat(64)}.example`)).to.match(/label/);
  });

  it('refuses a name longer than 253 characters and accepts one of exactly 253', () => {
    // 3 labels of 63 + 1 of 57 + "com" with 4 dots = 63*3 + 57 + 3 + 4 = 253
    const exact = [`${'a'.repeat(63)}`, 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(57), 'com'].join('.');
    expect(exact).to.have.length(253);
    expect(nameOf(exact)).to.equal(exact);
    const tooLong = [`${'a'.repeat(63)}`, 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(58), 'com'].join('.');
    expect(tooLong).to.have.length(254);
    expect(reasonOf(tooLong)).to.match(/253/);
  });

  it('counts the 253-character limit on the punycode form, not the typed form', () => {
    const label = 'bücher'.repeat(9); // 54 typed characters, 61 in punycode
    const typed = [label, label, label, label, 'example'].join('.');
    expect(typed.length).to.be.at.most(253);
    expect(reasonOf(typed)).to.match(/253/);
  });

  it('refuses a label that starts or ends with a hyphen, but accepts one inside', () => {
    expect(reasonOf('-x.com')).to.match(/label/);
    expect(reasonOf('x-.com')).to.match(/label/);
    expect(reasonOf('sub.-x.com')).to.match(/label/);
    expect(nameOf('my-shop.com')).to.equal('my-shop.com');
  });

  it('refuses empty labels, single labels, spaces, URLs and e-mail addresses', () => {
    expect(reasonOf('bad..name')).to.match(/label/);
    expect(reasonOf('.example.com')).to.match(/label/);
    expect(reasonOf('nodot')).to.match(/two labels/);
    expect(reasonOf('a b.com')).to.match(/characters/);
    expect(reasonOf('https://example.com')).to.match(/characters/);
    expect(reasonOf('user@example.com')).to.match(/characters/);
    expect(reasonOf('under_score.com')).to.match(/label/);
  });

  it('refuses an empty entry, a lone dot and anything that is not a string', () => {
    expect(reasonOf('')).to.equal('empty');
    expect(reasonOf('   ')).to.equal('empty');
    expect(reasonOf('.')).to.equal('empty');
    expect(reasonOf(42)).to.equal('not a string');
    expect(reasonOf(null)).to.equal('not a string');
  });

  it('refuses a numeric or one-letter top-level domain', () => {
    expect(reasonOf('example.123')).to.match(/top-level/);
    expect(reasonOf('example.c')).to.match(/top-level/);
  });

  it('the canonical-name fast path answers exactly as the full check, at every label and length edge', () => {
    const l63 = 'a'.repeat(63);
    const inputs = [
      'example.com',
      'a.b.example.com',
      'a-b.example.com',
      '-ab.example.com',
      'ab-.example.com',
      'a--b.example.com',
      '1.example.com',
      'example.c',
      'example.123',
      'example.xn--p1ai',
      'example.xn--',
      'example.xn--p1ai-',
      'example.xn--a',
      `${l63}.com`,
      `${l63}a.com`,
      `${l63}.${l63}.${l63}.${'a'.repeat(57)}.com`,
      `${l63}.${l63}.${l63}.${'a'.repeat(58)}.com`,
      `x.${'a'.repeat(64)}`,
      'Example.com',
      'example.com.',
      ' example.com',
      'example..com',
      '.example.com',
      'example',
      'bücher.example',
      'exa_mple.com',
      'example.c0m',
      'example.co-m',
      'xn--bcher-kva.example',
    ];
    for (const input of inputs) expect(normalizeDomainName(input), input).to.deep.equal(checkDomainName(input));
  });
});

describe('domain names: normalizeNameList', () => {
  it('lists each bad entry with its 1-based position, the value as given and a reason', () => {
    const r = normalizeNameList(['ok.example', 'bad..name', '-x.com', 'nodot', 'a b.com', 'fine.example']);
    expect(r.names).to.deep.equal(['ok.example', 'fine.example']);
    expect(r.invalid.map((i) => [i.position, i.value])).to.deep.equal([
      [2, 'bad..name'],
      [3, '-x.com'],
      [4, 'nodot'],
      [5, 'a b.com'],
    ]);
    for (const i of r.invalid) expect(i.reason).to.be.a('string').and.not.equal('');
  });

  it('collapses duplicates after normalization, keeps the first occurrence in order, and reports each duplicate once', () => {
    const r = normalizeNameList([
      'B.example',
      'a.example',
      'b.example.',
      'A.EXAMPLE',
      'bücher.example',
      'xn--bcher-kva.example',
      'b.example',
    ]);
    expect(r.names).to.deep.equal(['b.example', 'a.example', 'xn--bcher-kva.example']);
    expect(r.duplicates).to.have.members(['b.example', 'a.example', 'xn--bcher-kva.example']);
    expect(r.duplicates).to.have.length(3);
    expect(r.invalid).to.deep.equal([]);
  });

  it('gives positions in the list as submitted, counting duplicates and bad entries before them', () => {
    const r = normalizeNameList(['a.example', 'a.example', 'x..y', 'b.example', 7]);
    expect(r.invalid.map((i) => i.position)).to.deep.equal([3, 5]);
    expect(r.invalid[1]).to.include({ value: '7', reason: 'not a string' });
  });

  it('returns empty results for an empty list', () => {
    expect(normalizeNameList([])).to.deep.equal({ names: [], invalid: [], duplicates: [] });
  });
});
