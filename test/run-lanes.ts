/**
 * A folder of test files in mocha processes side by side: each file named by `--apart` in a process
 * of its own, every other file of the folder together in one more.
 *
 *   node --import tsx test/run-lanes.ts test/faults --apart postgres.test.ts,redis.test.ts --timeout 300000
 *
 * What it is for: the fault suite's outage tests keep Postgres or Redis down for 60 s, and most of
 * their minutes are waiting with the machine idle; beside them, the other fault files run in that
 * time instead of after it (CI's 20 minutes). Each outage file has a lane of its own (Postgres' takes
 * ~1.7 min, Redis' ~1.2 min: one after the other they outlasted the main lane by a minute). Each lane
 * has its own servers (every fault file starts its own Postgres cluster, redis-server and workers),
 * as it would alone. The main lane prints as it runs; each apart lane's output is kept and printed
 * whole when it ends, so lanes never interleave. Mocha arguments after the folder (`--grep`,
 * `--timeout`) go to every lane. Exits non-zero when any lane failed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const MOCHA = join('node_modules', 'mocha', 'bin', 'mocha.js');

function parse(argv: string[]) {
  const [folder, ...rest] = argv;
  if (!folder || !existsSync(folder)) throw new Error(`usage: run-lanes.ts <folder> --apart a.test.ts,b.test.ts [mocha args…]`);
  const at = rest.indexOf('--apart');
  const apart = new Set(at >= 0 ? (rest[at + 1] ?? '').split(',').filter(Boolean) : []);
  const mochaArgs = at >= 0 ? [...rest.slice(0, at), ...rest.slice(at + 2)] : rest;
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(folder, f));
  const unknown = [...apart].filter((a) => !files.some((f) => basename(f) === a));
  if (unknown.length) throw new Error(`--apart names files that are not in ${folder}: ${unknown.join(', ')}`);
  return {
    apartFiles: files.filter((f) => apart.has(basename(f))),
    mainFiles: files.filter((f) => !apart.has(basename(f))),
    mochaArgs,
  };
}

function runMocha(files: string[], args: string[], buffered: boolean): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    if (files.length === 0) return resolve({ status: 0, output: '' });
    const child = spawn(process.execPath, [MOCHA, ...args, ...files], { stdio: buffered ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => chunks.push(b));
    child.stderr?.on('data', (b: Buffer) => chunks.push(b));
    child.on('close', (status) => resolve({ status, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

async function main() {
  const { apartFiles, mainFiles, mochaArgs } = parse(process.argv.slice(2));
  console.log(
    `lanes: ${apartFiles.map((f) => basename(f)).join(', ') || '(none)'} apart, each alone (printed when done), beside ${mainFiles.length} other file(s)`,
  );
  const [main, ...apart] = await Promise.all([
    runMocha(mainFiles, mochaArgs, false),
    ...apartFiles.map((f) => runMocha([f], mochaArgs, true)),
  ]);
  for (const [i, f] of apartFiles.entries()) console.log(`\n== the apart lane of ${basename(f)}:\n${apart[i].output}`);
  const failed = apart.map((r, i) => ({ r, f: basename(apartFiles[i]) })).filter(({ r }) => r.status !== 0);
  if (main.status !== 0 || failed.length) {
    console.log(`lanes failed: main exit ${main.status}${failed.map(({ r, f }) => `, ${f} exit ${r.status}`).join('')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
