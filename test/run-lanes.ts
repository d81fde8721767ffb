/**
 * A folder of test files in two mocha processes side by side: the files named by `--apart` in one,
 * every other file of the folder in the other.
 *
 *   node --import tsx test/run-lanes.ts test/faults --apart postgres.test.ts,redis.test.ts --timeout 300000
 *
 * What it is for: the fault suite's outage tests keep Postgres or Redis down for 60 s, and most of
 * their three minutes is waiting with the machine idle; beside them, the other fault files run in
 * that time instead of after it (CI's 20 minutes). Each lane has its own servers (every fault file
 * starts its own Postgres cluster, redis-server and workers), as it would alone. The main lane
 * prints as it runs; the apart lane's output is kept and printed whole when it ends, so the two
 * never interleave. Mocha arguments after the folder (`--grep`, `--timeout`) go to both lanes. Exits
 * non-zero when either lane failed.
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
    `lanes: ${apartFiles.map((f) => basename(f)).join(', ') || '(none)'} apart (printed when done), beside ${mainFiles.length} other file(s)`,
  );
  const [apart, main] = await Promise.all([runMocha(apartFiles, mochaArgs, true), runMocha(mainFiles, mochaArgs, false)]);
  if (apartFiles.length) console.log(`\n== the apart lane (${apartFiles.map((f) => basename(f)).join(', ')}):\n${apart.output}`);
  if (apart.status !== 0 || main.status !== 0) {
    console.log(`lanes failed: apart exit ${apart.status}, main exit ${main.status}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
