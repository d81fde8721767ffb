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

  it('a start-up failure prints the error with its stack and exits 1', function () {
    this.timeout(20_000);
    const res = run(`throw new Error('start-up failed');`);
    expect(res.status).to.equal(1);
    expect(res.stderr).to.match(/Error: start-up failed\n\s+at /);
  });

  it('an unhandled rejection is logged with its stack and exits 1', function () {
    this.timeout(20_000);
    const res = run(`void Promise.reject(new Error('nobody listens'));\nawait new Promise((r) => setTimeout(r, 5_000));`);
    expect(res.status).to.equal(1);
    expect(res.stderr).to.match(/unhandled promise rejection: Error: nobody listens\n\s+at /);
  });
});
