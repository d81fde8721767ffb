import querystring from 'node:querystring';
import { expect } from 'chai';
import { InvalidRequest } from '../../shared/platform/errors';
import { assertCleanInput, findInputProblem, storableText, stringProblem } from '../../shared/platform/validation';

/** The one input rule every route applies (api/clean-input.ts), as a pure function. */
describe('the input rule: NUL, unpaired surrogates, prototype keys, numbers JSON cannot carry', () => {
  it('a NUL anywhere in a string is named by its path, however deep (object keys and array indexes)', () => {
    expect(findInputProblem({ a: 'ok', settings: { list: ['x', 'y\u0000z'] } }, 'body')).to.deep.equal({
      path: 'body.settings.list.1',
      message: 'contains a NUL character (U+0000)',
    });
    expect(findInputProblem('\u0000', 'query')).to.deep.equal({ path: 'query', message: 'contains a NUL character (U+0000)' });
  });

  it('a lone high or low surrogate is refused; a paired one (an emoji) is not', () => {
    for (const bad of ['\ud800', 'a\ud83d', '\udc00b', 'x\ude00\ud83dy', '\ud83d\ud83d'])
      expect(stringProblem(bad), JSON.stringify(bad)).to.match(/unpaired surrogate/);
    for (const good of ['😀', 'a😀b', '日本語', 'café', '\ufffd', '', 'tab\tand\nnewline'])
      expect(stringProblem(good), good).to.equal(undefined);
    expect(findInputProblem({ name: 'Brand 😀', contact: { first_name: 'Ada\udfff' } }, 'body')).to.deep.equal({
      path: 'body.contact.first_name',
      message: 'contains an unpaired surrogate (not valid Unicode)',
    });
  });

  it('an object key is checked like a value: NUL or a lone surrogate in a key is refused, at the key', () => {
    expect(findInputProblem({ settings: { 'a\u0000b': 1 } }, 'body')?.path).to.equal('body.settings.a\ufffdb');
    expect(findInputProblem({ settings: { '\ud800': 1 } }, 'body')).to.deep.equal({
      path: 'body.settings.\ufffd',
      message: 'key contains an unpaired surrogate (not valid Unicode)',
    });
  });

  it('__proto__, constructor and prototype keys are refused wherever they are (a JSON.parse result keeps them as own keys)', () => {
    const parsed = JSON.parse('{"name":"b","settings":{"theme":"red","__proto__":{"admin":true}}}');
    expect(findInputProblem(parsed, 'body')).to.deep.equal({
      path: 'body.settings.__proto__',
      message: 'the key "__proto__" is not accepted',
    });
    expect(findInputProblem(JSON.parse('[{"constructor":{"prototype":1}}]'), 'body')?.path).to.equal('body.0.constructor');
    expect(findInputProblem({ a: { b: { prototype: 1 } } }, 'body')?.path).to.equal('body.a.b.prototype');
    // A query string parses into a null-prototype object: its keys are own keys too.
    expect(findInputProblem(querystring.parse('q=a&__proto__=x'), 'query')?.path).to.equal('query.__proto__');
    // As a value, the word is just a string.
    expect(findInputProblem({ theme: '__proto__', name: 'constructor' }, 'body')).to.equal(undefined);
  });

  it('a number JSON cannot carry (1e309 parses to Infinity) is refused; big, negative and -0 numbers are left to the schemas', () => {
    expect(findInputProblem(JSON.parse('{"limit":1e309}'), 'body')).to.deep.equal({ path: 'body.limit', message: 'number out of range' });
    expect(findInputProblem(JSON.parse('[-1e400]'), 'body')?.path).to.equal('body.0');
    expect(findInputProblem({ a: 2 ** 64, b: -0, c: -1, d: 0.1, e: null, f: true }, 'body')).to.equal(undefined);
  });

  it('the first problem in document order is the one named', () => {
    expect(findInputProblem({ a: ['ok', '\u0000'], b: '\u0000' }, 'body')?.path).to.equal('body.a.1');
    expect(findInputProblem({ a: { x: '\u0000' }, constructor: 1 }, 'body')?.path).to.equal('body.a.x');
  });

  it('clean input passes, whatever its shape', () => {
    for (const ok of [undefined, null, {}, [], 'x', 1, { a: [{ b: 'c' }], d: 'é😀' }, Object.create(null)])
      expect(findInputProblem(ok, 'body')).to.equal(undefined);
  });

  it('a nesting far deeper than any route accepts is walked without blowing the stack', () => {
    let deep: unknown = '\u0000';
    for (let i = 0; i < 30_000; i++) deep = [deep];
    expect(findInputProblem(deep, 'body')?.message).to.match(/NUL/);
  });

  it('a long path is cut like every error value, and never echoes the bad characters (nor half a pair)', () => {
    const key = `${'k'.repeat(99)}😀`;
    const problem = findInputProblem({ [key]: '\u0000' }, 'body')!;
    expect(problem.path.length).to.be.at.most(101);
    expect(stringProblem(problem.path)).to.equal(undefined);
  });

  it('assertCleanInput throws the 400 invalid_request with parseInput’s fields shape', () => {
    let err: unknown;
    try {
      assertCleanInput({ settings: { __proto__: null, '\u0000': 1 } }, 'body');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InvalidRequest);
    const e = err as InvalidRequest;
    expect([e.status, e.code]).to.deep.equal([400, 'invalid_request']);
    expect(e.details).to.deep.equal({ fields: [{ path: 'body.settings.\ufffd', message: 'key contains a NUL character (U+0000)' }] });
    expect(e.message).to.equal('Invalid body: body.settings.\ufffd: key contains a NUL character (U+0000)');
    expect(() => assertCleanInput({ ok: true }, 'body')).not.to.throw();
  });

  it('peer text (a registry error, an SMTP reply) is made storable: NUL and lone surrogates become U+FFFD, pairs stay', () => {
    expect(storableText('refused\u0000: \ud800 x 😀')).to.equal('refused\ufffd: \ufffd x 😀');
    expect(stringProblem(storableText('a\udc00\u0000\ud83d'))).to.equal(undefined);
    expect(storableText(null)).to.equal(null);
  });
});
