/**
 * Runs tests in isolation, to prove that each one arranges its own data and passes alone.
 *
 *   node --import tsx test/run-each.ts                 each test file alone (what CI runs)
 *   node --import tsx test/run-each.ts --tests         each test alone, by its full title (--grep)
 *   node --import tsx test/run-each.ts --tests FILE…   the same, for the given files (or folders) only
 *
 * A test that only passes after another one ran leans on data it did not arrange; this finds it.
 * Each run is its own mocha process with its own databases and Redis prefix (named by its pid), so
 * EACH_LANES of them (default 2) run side by side without seeing each other's data. The migrated
 * template every test database is cloned from is built once here and handed to each run
 * (TEST_PG_TEMPLATE): it holds the schema only, and migrating it again per file was a second or
 * two of each run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createTemplate, dropTemplate, templateName } from './helpers/db';

interface DryRunTest {
  fullTitle: string;
  file: string;
}

const args = process.argv.slice(2);
const eachTest = args.includes('--tests');
const given = args.filter((a) => !a.startsWith('--'));
const files = (given.length ? given : ['unit', 'integration', 'e2e', 'faults'].map((dir) => join('test', dir))).flatMap((arg) =>
  existsSync(arg) && statSync(arg).isDirectory() ? testFiles(arg) : [arg],
);
const LANES = Math.max(1, Number(process.env.EACH_LANES ?? 2));
/** Mocha's own entry point, under this node: `npx` cost a few hundred ms per run. */
const MOCHA = join('node_modules', 'mocha', 'bin', 'mocha.js');

/** Every *.test.ts under dir, sorted; a folder that does not exist (yet) has none. */
function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts'));
  return found.map((f) => join(dir, f)).sort();
}

/** Mocha's --grep takes a regular expression; anchor the title so one test never matches another. */
function exactTitle(title: string): string {
  return `^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

function titlesOf(file: string): string[] {
  const out = spawnSync(process.execPath, [MOCHA, '--dry-run', '--reporter', 'json', file], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`could not list the tests of ${file}:\n${out.stderr}`);
  // The JSON reporter writes the report last; anything before its opening brace is stray output.
  const report = JSON.parse(out.stdout.slice(out.stdout.indexOf('{\n'))) as { tests: DryRunTest[] };
  return report.tests.map((t) => t.fullTitle);
}

/** One mocha run; its output is kept and printed whole when it ends, so lanes do not interleave. */
function runMocha(extra: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MOCHA, ...extra], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('close', (status) => resolve({ status, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

async function main() {
  const targets = files.flatMap((file) =>
    eachTest
      ? titlesOf(file).map((t) => ({ label: `${file} › ${t}`, extra: [file, '--grep', exactTitle(t)] }))
      : [{ label: file, extra: [file] }],
  );
  await createTemplate();
  const env = { ...process.env, TEST_PG_TEMPLATE: templateName() };
  const failed: string[] = [];
  const queue = [...targets];
  const lane = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const started = Date.now();
      const res = await runMocha([...next.extra, '--reporter', 'dot'], env);
      const ok = res.status === 0;
      const took = ((Date.now() - started) / 1000).toFixed(1);
      // A pass prints one line; a failure prints everything the run wrote.
      console.log(ok ? `== passed alone in ${took} s: ${next.label}` : `\n== FAILED alone in ${took} s: ${next.label}\n${res.output}`);
      if (!ok) failed.push(next.label);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(LANES, targets.length) }, lane));
  } finally {
    await dropTemplate();
  }
  console.log(`\n${targets.length - failed.length}/${targets.length} passed alone (${LANES} at a time)`);
  for (const f of failed) console.log(`  failed alone: ${f}`);
  process.exitCode = failed.length ? 1 : 0;
}

void main();
