import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';

describe('runMain (a real process started the way bin/ entry points start)', () => {
  const lifecycle = path.resolve(__dirname, '../../bin/lifecycle.ts');
  function run(body: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runmain-'));
    const file = path.join(dir, 'main.ts');
    fs.writeFileSync(file, `import { runMain } from ${JSON.stringify(lifecycle)};\nrunMain(async () => {\n${body}\n});\n`);
    try {
      return spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 20_000 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Every line the process wrote to stderr, each of which must be a JSON object. */
  const jsonLines = (stderr: string) =>
    stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  it('a start-up failure is logged as one JSON line with the error and its stack, and exits 1', function () {
    this.timeout(20_000);
    const res = run(`throw new Error('the database is away');`);
    expect(res.status).to.equal(1);
    const [line, ...more] = jsonLines(res.stderr);
    expect(more).to.deep.equal([]);
    expect(line).to.include({ level: 60, msg: 'start-up failed', err: 'the database is away' });
    expect(line.stack).to.match(/Error: the database is away\n\s+at /);
  });

  it('an unhandled rejection is logged as one JSON line with its stack and exits 1', function () {
    this.timeout(20_000);
    const res = run(`void Promise.reject(new Error('nobody listens'));\nawait new Promise((r) => setTimeout(r, 5_000));`);
    expect(res.status).to.equal(1);
    const [line, ...more] = jsonLines(res.stderr);
    expect(more).to.deep.equal([]);
    expect(line).to.include({ level: 60, msg: 'unhandled promise rejection', err: 'nobody listens' });
    expect(line.stack).to.match(/Error: nobody listens\n\s+at /);
  });
});
