import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(__dirname, '../..');
const MOCHA = path.join(ROOT, 'node_modules/mocha/bin/mocha.js');

/** Mocha as CI runs it (the repo's .mocharc.json, so test/setup.ts's check), on one fixture file. */
function runFixture(name: string) {
  const out = spawnSync(process.execPath, [MOCHA, `test/fixtures/leaks/${name}.fixture.ts`], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, LEAK_GRACE_MS: '300' },
    timeout: 50_000,
  });
  return { status: out.status, signal: out.signal, text: `${out.stdout}\n${out.stderr}` };
}

describe('leak check: a finished run that is still held open fails and names the handle', () => {
  it('a server left listening fails the run with the server and the line that opened it', () => {
    const run = runFixture('open-server');
    expect(run.signal, run.text).to.equal(null);
    expect(run.status, run.text).to.equal(1);
    expect(run.text).to.include('1 passing');
    expect(run.text).to.include('Leaked handles');
    expect(run.text).to.include('TCPServerWrap');
    expect(run.text).to.match(/Server listening on 127\.0\.0\.1:\d+/);
    expect(run.text).to.match(/open-server\.fixture\.ts:\d+:\d+/);
  });

  it('an interval never cleared fails the run with the timer and the line that started it', () => {
    const run = runFixture('open-timer');
    expect(run.status, run.text).to.equal(1);
    expect(run.text).to.include('Timeout (setInterval, 60000 ms)');
    expect(run.text).to.match(/open-timer\.fixture\.ts:\d+:\d+/);
  });

  it('a test that closes what it opens ends by itself and passes', () => {
    const run = runFixture('closed');
    expect(run.status, run.text).to.equal(0);
    expect(run.text).not.to.include('Leaked handles');
  });
});
