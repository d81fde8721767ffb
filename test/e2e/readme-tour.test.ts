import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { closedPort } from '../helpers/cli-run';
import { createTestDb, type TestDb } from '../helpers/db';
import { REDIS_URL } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

const ROOT = path.resolve(__dirname, '../..');
const README = path.join(ROOT, 'README.md');

/** A shell block of the README, with the HTML comment that says what the tour test does with it. */
interface ShellBlock {
  mark: string;
  lang: string;
  body: string;
  /** Line of the opening fence, 1-based, for messages. */
  line: number;
}

/**
 * Every ```sh / ```console / ```bash block of a Markdown text and the `<!-- … -->` comment on the
 * line before it (empty when there is none).
 */
function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`README.md:${i + 1}: a code block is never closed`);
    if (['sh', 'console', 'bash', 'shell'].includes(open[1])) {
      const mark = /^<!--\s*(.*?)\s*-->$/.exec(lines[i - 1] ?? '')?.[1] ?? '';
      blocks.push({ mark, lang: open[1], body: lines.slice(i + 1, end).join('\n'), line: i + 1 });
    }
    i = end;
  }
  return blocks;
}

/** A command as a reader pastes it (continuation lines included) and the output the README shows after it. */
interface Step {
  command: string;
  expected: string[];
}

/**
 * A ```console block: lines starting with `$ ` are commands, continued on the next lines while a
 * line ends with `\`, `|` or `&&`; the other lines are what the command prints. A ```sh block is
 * one command with no output shown.
 */
function steps(block: ShellBlock): Step[] {
  if (block.lang !== 'console') return [{ command: block.body, expected: [] }];
  const out: Step[] = [];
  const lines = block.body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('$ ')) {
      const command = [line.slice(2)];
      while (/(\\|\||&&)\s*$/.test(command[command.length - 1]) && i + 1 < lines.length) command.push(lines[++i]);
      out.push({ command: command.join('\n'), expected: [] });
    } else {
      if (!out.length) throw new Error(`README.md:${block.line}: output before any command: ${line}`);
      out[out.length - 1].expected.push(line);
    }
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WILD = /(…|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)/;

/**
 * A line of shown output as a pattern: ids and timestamps stand for any id and time, `…` for
 * anything (what the README leaves out); the rest must be printed as shown.
 */
function linePattern(shown: string): RegExp {
  const source = shown
    .split(WILD)
    .map((p, i) => {
      if (i % 2 === 0) return p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (p === '…') return '.*';
      return UUID.test(p) ? '[0-9a-f-]{36}' : '\\d{4}-\\d\\d-\\d\\dT[\\d:.]{12}Z';
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * The shown lines must appear in the printed output in that order (other lines may come between,
 * e.g. progress events); a line that is only `…` stands for lines the README leaves out.
 */
function missingLines(shown: string[], printed: string): string[] {
  const lines = printed.split('\n');
  let at = 0;
  for (const [k, s] of shown.entries()) {
    if (s.trim() === '…') continue;
    const re = linePattern(s);
    while (at < lines.length && !re.test(lines[at])) at++;
    if (at === lines.length) return shown.slice(k);
    at++;
  }
  return [];
}

/** Whether any process of the group is still there. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Shell variables the tour assigns (`J=$(…)`), kept from one block to the next as in a reader's shell. */
const assigned = (command: string) => [...command.matchAll(/(?:^|[;&|(]\s*|\$ )([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]);

describe('the README shell blocks', () => {
  const blocks = shellBlocks(fs.readFileSync(README, 'utf8'));
  it('marks every shell block of the README: run by the tour, or why not', () => {
    expect(
      blocks.filter((b) => b.mark === 'tour: start'),
      'one block starts the demo',
    ).to.have.length(1);
    expect(blocks.filter((b) => b.mark === 'tour').length, 'tour blocks').to.be.at.least(4);
    for (const b of blocks) {
      const ok = b.mark === 'tour' || b.mark === 'tour: start' || /^not run by the tour test: \S/.test(b.mark);
      expect(ok, `README.md:${b.line}: a shell block needs <!-- tour -->, <!-- tour: start --> or <!-- not run by the tour test: why -->`)
        .to.be.true;
    }
  });
});

describe('the README tour, run as written on a fresh demo', function () {
  this.timeout(120_000);
  const readme = fs.readFileSync(README, 'utf8');
  const blocks = shellBlocks(readme);
  const tour = blocks.filter((b) => b.mark === 'tour');
  const start = blocks.filter((b) => b.mark === 'tour: start');

  let testDb: TestDb;
  let dataDir: string;
  let work: string;
  let port: number;
  let demo: ChildProcess | undefined;
  let banner = '';
  let prefix: string | undefined;
  /** The deployment the demo runs as: what a reader's defaults (./data, port 3000) point at. */
  let demoEnv: Record<string, string | undefined>;

  before(async function () {
    this.timeout(90_000);
    testDb = await createTestDb();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-tour-data-'));
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-tour-'));
    port = await closedPort();
    // The start block as written (`npm run demo`), in the clone, on its own database, data
    // folder and port: what the README's "PORT=3001 npm run demo" tells a reader to do.
    demoEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      DATABASE_URL: testDb.url,
      REDIS_URL,
      DATA_DIR: dataDir,
    };
    demo = spawn('bash', ['-c', start[0].body], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: demoEnv });
    demo.stdout!.on('data', (b) => (banner += b));
    demo.stderr!.on('data', (b) => (banner += b));
    await waitUntil(() => /gaining-demo key/.test(banner) || demo!.exitCode !== null, {
      timeout: 80_000,
      label: () => `the demo banner; printed so far:\n${banner}`,
    });
    expect(demo.exitCode, banner).to.equal(null);
    prefix = /Queue prefix:\s+(\S+)/.exec(banner)?.[1];
  });

  after(async function () {
    this.timeout(60_000);
    if (demo?.pid && groupAlive(demo.pid)) {
      process.kill(-demo.pid, 'SIGKILL');
      await waitUntil(() => !groupAlive(demo!.pid!), { timeout: 10_000, label: 'the demo killed' });
    }
    if (prefix) {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await redis.quit();
    }
    await testDb?.drop();
    for (const d of [dataDir, work]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  let checked = false;
  async function losingDomains(): Promise<number> {
    const row = await testDb
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .where('r.username', 'losing-demo')
      .count('* as n')
      .first();
    return Number(row!.n);
  }
  async function consoleStillHasDomains() {
    const left = await losingDomains();
    expect(readme).to.include(`${left.toLocaleString('en-US')} domains are still with \`losing-demo\``);
    expect(left).to.be.at.least(10_000);
    checked = true;
  }

  it('runs each block of the tour with bash: exit 0 and the output the README shows; the console still has domains', async () => {
    const key = (label: RegExp) => label.exec(banner)?.[1];
    const K = key(/losing-demo key:\s+(\S+)/);
    const OP = key(/Operator key:\s+(\S+)/);
    expect(K, `the losing-demo key in the banner:\n${banner}`).to.match(/^dpk_/);
    expect(OP, `the operator key in the banner:\n${banner}`).to.match(/^dpo_/);
    // What the reader pastes from the banner, as the README tells them to.
    const state = path.join(work, 'state.sh');
    fs.writeFileSync(state, `K=${K}\nOP=${OP}\n`);
    const kept = new Set(['K', 'OP']);

    for (const block of tour) {
      // What the README's console step promises, before the reset refills it: the tour moved a
      // part, the rest is there to explore.
      if (block.body.includes('demo:reset')) await consoleStillHasDomains();
      for (const step of steps(block)) {
        for (const v of assigned(step.command)) kept.add(v);
        // The reader's port: "Port 3000 taken? … use that port below".
        const command = step.command.replaceAll('localhost:3000', `localhost:${port}`);
        const script = [
          'set -eo pipefail',
          `source ${JSON.stringify(state)}`,
          command,
          `declare -p ${[...kept].join(' ')} > ${JSON.stringify(`${state}.next`)} 2>/dev/null || true`,
        ].join('\n');
        const t0 = Date.now();
        const run = spawnSync('bash', ['-c', script], {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 30_000,
          // The same deployment as the demo's (npm run demo:reset reads DATA_DIR and DATABASE_URL).
          env: demoEnv,
        });
        const where = `README.md:${block.line}: $ ${step.command}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
        expect(run.status, `exit status after ${Date.now() - t0} ms\n${where}`).to.equal(0);
        expect(missingLines(step.expected, run.stdout), `shown but not printed\n${where}`).to.deep.equal([]);
        if (process.env.TOUR_PRINT) console.log(`$ ${command}\n${run.stdout}`);
        fs.renameSync(`${state}.next`, state);
      }
    }

    expect(checked, 'the console step was checked').to.equal(true);
    expect(await losingDomains(), 'after npm run demo:reset').to.equal(20_000);
  });

  it('stops on Ctrl-C: every process of the demo ends and the port is closed', async () => {
    const pid = demo!.pid!;
    // What a terminal does on Ctrl-C: SIGINT to the foreground process group (npm, then node).
    process.kill(-pid, 'SIGINT');
    await waitUntil(() => !groupAlive(pid), { timeout: 30_000, label: () => `the demo's processes to end after Ctrl-C:\n${banner}` });
    expect(banner, 'no stack trace on the terminal').to.not.match(/^\s+at .+:\d+:\d+\)?$/m);
    const res = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://localhost:${port}/healthz`], {
      encoding: 'utf8',
    });
    expect(res.stdout, 'nothing answers on the port').to.equal('000');
  });
});
