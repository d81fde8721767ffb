import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { allInOneLogger, LOG_FILE, terminalLine } from '../../shared/platform/logger';

/** `npm start`'s logger: JSON lines in DATA_DIR/logs, the terminal for a person. */
describe('the all-in-one logger (npm start)', () => {
  let dir: string;
  let shown: string[];
  const terminal = { write: (text: string) => shown.push(text) };
  const fileLines = (file = path.join(dir, LOG_FILE)) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-logs-'));
    shown = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes every line at LOG_LEVEL to the file; the terminal gets warnings and errors only, one readable line each', () => {
    const { log, file, terminal: rule } = allInOneLogger('info', dir, { role: 'all' }, { terminal });
    expect(file).to.equal(path.join(dir, 'logs', 'domain-push.log'));
    log.info({ req: { id: 'r1', method: 'GET', path: '/v1/me' }, res: { status: 200 }, responseTime: 3 }, 'GET /v1/me 200');
    log.debug('not at info');
    log.warn({ prefix: '{push-1}', err: 'connection refused' }, 'could not check who owns the queue prefix yet');
    log.error({ err: new Error('boom') }, 'a chunk failed');
    expect(fileLines().map((l) => l.msg)).to.deep.equal([
      'GET /v1/me 200',
      'could not check who owns the queue prefix yet',
      'a chunk failed',
    ]);
    expect(fileLines()[2].err.stack).to.match(/Error: boom\n\s+at /);
    expect(shown).to.have.length(2);
    expect(shown[0]).to.match(
      /^\d\d:\d\d:\d\d warn {2}could not check who owns the queue prefix yet — connection refused \{"prefix":"\{push-1\}"\}\n$/,
    );
    expect(shown[1]).to.match(/^\d\d:\d\d:\d\d error a chunk failed — boom\n$/);
    expect(shown.join('')).to.not.include('"level"');
    expect(rule).to.equal('warnings and errors; LOG_LEVEL=debug shows every line');
  });

  it('with LOG_LEVEL=debug the terminal shows every line, access lines with their time', () => {
    const { log, terminal: rule } = allInOneLogger('debug', dir, {}, { terminal });
    log.info({ req: { id: 'r1' }, res: { status: 200 }, responseTime: 12 }, 'GET /admin/emails 200');
    log.debug('polling');
    expect(shown.map((l) => l.slice(9))).to.deep.equal(['info  GET /admin/emails 200 (12 ms)\n', 'debug polling\n']);
    expect(rule).to.equal('every line: LOG_LEVEL=debug');
    expect(fileLines()).to.have.length(2);
  });

  it('keeps secrets redacted in the file as on stdout', () => {
    const { log } = allInOneLogger('info', dir, {}, { terminal });
    log.info({ api_key: 'dpk_secret', headers: { authorization: 'Bearer dpk_secret' }, profile: { password: 'pw-secret' } }, 'created');
    const text = fs.readFileSync(path.join(dir, LOG_FILE), 'utf8');
    expect(text).to.not.include('dpk_secret');
    expect(text).to.not.include('pw-secret');
    expect(text).to.include('[redacted]');
  });

  it('rotates the file past its cap, keeping one previous file', () => {
    const { log, file } = allInOneLogger('info', dir, {}, { terminal, capBytes: 2_000 });
    for (let i = 0; i < 60; i++) log.info({ i }, `line ${i} ${'x'.repeat(50)}`);
    const current = fs.statSync(file!).size;
    const previous = fs.statSync(`${file}.1`).size;
    expect(current).to.be.at.most(2_000);
    expect(previous).to.be.at.most(2_000);
    expect(fs.readdirSync(path.dirname(file!)).sort()).to.deep.equal(['domain-push.log', 'domain-push.log.1']);
    const last = fileLines(file).at(-1);
    expect(last.i).to.equal(59);
    // Nothing lost between the two files across the last rotation.
    const both = [...fileLines(`${file}.1`), ...fileLines(file)].map((l) => l.i);
    expect(both).to.deep.equal(Array.from({ length: both.length }, (_, k) => 60 - both.length + k));
  });

  it('a start with a file already past the cap rotates it first', () => {
    const file = path.join(dir, LOG_FILE);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify({ msg: 'old' })}\n`.repeat(100));
    const { log } = allInOneLogger('info', dir, {}, { terminal, capBytes: 1_000 });
    log.info('new');
    expect(fileLines().map((l) => l.msg)).to.deep.equal(['new']);
    expect(fs.existsSync(`${file}.1`)).to.equal(true);
  });

  it('LOG_LEVEL=silent writes no file and shows nothing', () => {
    const { log, file } = allInOneLogger('silent', dir, {}, { terminal });
    log.error('quiet');
    expect(file).to.equal(undefined);
    expect(shown).to.deep.equal([]);
    expect(fs.existsSync(path.join(dir, 'logs'))).to.equal(false);
  });

  it('a line that is not JSON reaches the terminal as it is', () => {
    expect(terminalLine('plain words')).to.equal('plain words\n');
  });
});
