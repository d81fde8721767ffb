/**
 * Runs tests in isolation, to prove that each one arranges its own data and passes alone.
 *
 *   node --import tsx test/run-each.ts                 each test file alone (what CI runs)
 *   node --import tsx test/run-each.ts --tests         each test alone, by its full title (--grep)
 *   node --import tsx test/run-each.ts --tests FILE…   the same, for the given files (or folders) only
 *
 * A test that only passes after another one ran leans on data it did not arrange; this finds it.
 * Runs one mocha at a time: the suite already uses the machine's cores for its servers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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

/** Every *.test.ts under dir, sorted; a folder that does not exist (yet) has none. */
function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts'));
  return found.map((f) => join(dir, f)).sort();
}

function mocha(extra: string[], quiet: boolean) {
  return spawnSync('npx', ['mocha', ...extra], { stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
}

/** Mocha's --grep takes a regular expression; anchor the title so one test never matches another. */
function exactTitle(title: string): string {
  return `^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

function titlesOf(file: string): string[] {
  const out = mocha(['--dry-run', '--reporter', 'json', file], true);
  if (out.status !== 0) throw new Error(`could not list the tests of ${file}:\n${out.stderr}`);
  // The JSON reporter writes the report last; anything before its opening brace is stray output.
  const report = JSON.parse(out.stdout.slice(out.stdout.indexOf('{\n'))) as { tests: DryRunTest[] };
  return report.tests.map((t) => t.fullTitle);
}

const failed: string[] = [];
let runs = 0;
for (const file of files) {
  const targets = eachTest
    ? titlesOf(file).map((t) => ({ label: `${file} › ${t}`, extra: ['--grep', exactTitle(t)] }))
    : [{ label: file, extra: [] }];
  for (const { label, extra } of targets) {
    runs++;
    console.log(`\n== alone: ${label}`);
    const started = Date.now();
    const res = mocha([file, ...extra, '--reporter', 'dot'], false);
    console.log(`== ${res.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${label}`);
    if (res.status !== 0) failed.push(label);
  }
}

console.log(`\n${runs - failed.length}/${runs} passed alone`);
for (const f of failed) console.log(`  failed alone: ${f}`);
process.exit(failed.length ? 1 : 0);
