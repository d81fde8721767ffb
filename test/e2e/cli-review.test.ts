import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { EXIT } from '../../cli/exit-codes';
import { BIN, ROOT } from '../helpers/cli-run';
import { authorize, importDomains, makeReseller, names, type TestReseller } from '../helpers/fixtures';
import { waitUntil } from '../helpers/resilience';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * One terminal of tmux (a server on a socket of its own) running one command. The command's exit
 * status is written to a file by the pane's shell: tmux's own pane_dead_status proved unreliable
 * here (now and then the pane was never marked dead after the command had ended).
 */
class Pane {
  private constructor(
    private readonly socket: string,
    private readonly conf: string,
    private readonly statusFile: string,
  ) {}

  static start(command: string, env: Record<string, string>, dir: string): Pane {
    const socket = `dp-review-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const conf = path.join(dir, `${socket}.conf`);
    const statusFile = path.join(dir, `${socket}.status`);
    fs.writeFileSync(conf, 'set -g remain-on-exit on\nset -g history-limit 20000\n');
    const pane = new Pane(socket, conf, statusFile);
    // The server starts with this environment; the pane's shell runs the command in ROOT.
    const { TMUX: _inTmux, ...outer } = process.env;
    const shell = `${command}; echo $? > ${statusFile}.tmp && mv ${statusFile}.tmp ${statusFile}`;
    execFileSync('tmux', ['-L', socket, '-f', conf, 'new-session', '-d', '-s', 'main', '-x', '220', '-y', '50', '-c', ROOT, shell], {
      env: { ...outer, TERM: 'xterm', ...env },
    });
    return pane;
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', this.conf, ...args], { encoding: 'utf8' });
  }

  /** The whole screen and its history, wrapped lines joined. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'main');
  }

  /** Types text literally, then Enter. */
  type(text: string) {
    if (text) this.tmux('send-keys', '-t', 'main', '-l', text);
    this.tmux('send-keys', '-t', 'main', 'Enter');
  }

  keys(...keys: string[]) {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  /** The command's exit status once it has ended, else undefined. */
  exitStatus(): number | undefined {
    return fs.existsSync(this.statusFile) ? Number(fs.readFileSync(this.statusFile, 'utf8').trim()) : undefined;
  }

  async exited(): Promise<number> {
    const ended = await waitUntil(
      () => {
        const status = this.exitStatus();
        return status === undefined ? null : { status };
      },
      { timeout: 60_000, label: () => `the command to end; screen:\n${this.screen()}` },
    );
    return ended.status;
  }

  kill() {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}

/**
 * The review before a push, as a person at a terminal meets it: the CLI in a real terminal (tmux),
 * the screen read with capture-pane, the answers typed with send-keys, against a running system.
 */
describe('domain-push push: the review on a terminal (tmux, e2e)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;
  let tmp: string;
  let pane: Pane | undefined;
  let n = 0;

  before(async function () {
    try {
      execFileSync('tmux', ['-V']);
    } catch {
      this.skip(); // apt-get install -y tmux
    }
    sys = await startSystem({ config: { CHUNK_SIZE: 100 } });
    losing = await makeReseller(sys, 'rv-losing');
    gaining = await makeReseller(sys, 'rv-gaining');
    await authorize(sys, gaining, losing);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'domain-push-review-'));
  });
  after(async () => {
    await sys?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  afterEach(() => {
    pane?.kill();
    pane = undefined;
  });

  async function domainsOf(count: number, locked: (i: number) => boolean = () => false) {
    const list = names(`rv-${++n}`, count);
    await importDomains(
      sys,
      list.map((name, i) => ({ name, reseller: losing.username, locked: locked(i) })),
    );
    return list;
  }

  function listFile(list: string[]) {
    const file = path.join(tmp, `list-${++n}.txt`);
    fs.writeFileSync(file, `${list.join('\n')}\n`);
    return file;
  }

  const run = (args: string) => {
    pane = Pane.start(`${BIN} ${args}`, { DOMAIN_PUSH_URL: sys.url, DOMAIN_PUSH_API_KEY: losing.key }, tmp);
    return pane;
  };
  const jobCount = async () => Number((await sys.db('bulk_jobs').count('* as n').first())?.n);
  const owners = async (list: string[]) =>
    (await sys.db('domains as d').join('resellers as r', 'r.id', 'd.reseller_id').whereIn('d.name', list).pluck('r.username')) as string[];

  it('shows what will happen and asks "Move? [y/N]"; answering n submits nothing (exit 2)', async () => {
    const list = await domainsOf(3, (i) => i === 0);
    const file = listFile([...list, 'rv-not-mine.example', list[1]]);
    const before = await jobCount();
    const p = run(`push --to ${gaining.username} --file ${file} --apply-to-locked --start-after 30`);
    await waitUntil(() => p.screen().includes('Move? [y/N]'), { label: () => `the question; screen:\n${p.screen()}` });
    const screen = p.screen();
    expect(screen).to.include(
      'Move 4 domains from rv-losing to rv-gaining: 2 will move, 1 locked will be unlocked and relocked, 0 skipped, 1 will fail; ' +
        'users and mail go with them; this cannot be undone; starts in 30 s.',
    );
    expect(screen).to.include('Results will be emailed to your account email (ops@rv-losing.example).');
    expect(screen).to.include('1 duplicate(s) removed.');
    expect(screen, screen).to.match(/Will not move:\nDOMAIN\s+STATUS\s+REASON\nrv-not-mine\.example\s+failed\s+not_found/);
    expect(await jobCount(), 'nothing submitted while asking').to.equal(before);

    p.type('n');
    expect(await p.exited()).to.equal(EXIT.refused);
    expect(p.screen()).to.include('domain-push: Not confirmed: nothing was submitted.');
    expect(await jobCount()).to.equal(before);
    expect(await owners(list)).to.deep.equal(list.map(() => losing.username));
  });

  it('answering y moves them; the list may come on stdin while the question goes to the terminal', async () => {
    const list = await domainsOf(3);
    const p = run(`push --to ${gaining.username} --file - --no-email --wait < ${listFile(list)}`);
    await waitUntil(() => p.screen().includes('Move? [y/N]'), { label: () => `the question; screen:\n${p.screen()}` });
    expect(p.screen()).to.include(
      'Move 3 domains from rv-losing to rv-gaining: 3 will move, 0 locked will be unlocked and relocked, 0 skipped;',
    );
    expect(p.screen()).to.include('No results email (--no-email).');
    p.type('y');
    expect(await p.exited(), p.screen()).to.equal(EXIT.ok);
    expect(p.screen()).to.match(/Job [0-9a-f-]{36}: completed: all 3 pushed\./);
    expect(await owners(list)).to.deep.equal(list.map(() => gaining.username));
  });

  it('Ctrl-C at the question submits nothing (exit 130)', async () => {
    const list = await domainsOf(2);
    const before = await jobCount();
    const p = run(`push --to ${gaining.username} --file ${listFile(list)}`);
    await waitUntil(() => p.screen().includes('Move? [y/N]'), { label: () => `the question; screen:\n${p.screen()}` });
    p.keys('C-c');
    expect(await p.exited()).to.equal(EXIT.interrupted);
    expect(p.screen()).to.include('Interrupted; nothing was submitted.');
    expect(await jobCount()).to.equal(before);
  });

  it('from 1,000 domains the gaining username must be typed: "y" is not enough (exit 2), the username moves them (exit 0)', async () => {
    const list = await domainsOf(1000);
    const file = listFile(list);
    const before = await jobCount();
    const question = "To move 1,000 domains, type the gaining reseller's username (rv-gaining): ";

    const yes = run(`push --to ${gaining.username} --file ${file}`);
    await waitUntil(() => yes.screen().includes(question), { label: () => `the question; screen:\n${yes.screen()}` });
    expect(yes.screen()).to.include(
      'Move 1,000 domains from rv-losing to rv-gaining: 1,000 will move, 0 locked will be unlocked and relocked, 0 skipped; ' +
        'users and mail go with them; this cannot be undone; starts at once.',
    );
    yes.type('y');
    expect(await yes.exited()).to.equal(EXIT.refused);
    expect(yes.screen()).to.include('Not confirmed: nothing was submitted.');
    expect(await jobCount()).to.equal(before);
    yes.kill();

    const typed = run(`push --to ${gaining.username} --file ${file} --wait`);
    await waitUntil(() => typed.screen().includes(question), { label: () => `the question; screen:\n${typed.screen()}` });
    typed.type('rv-gaining');
    expect(await typed.exited(), typed.screen()).to.equal(EXIT.ok);
    expect(typed.screen()).to.match(/Job [0-9a-f-]{36}: completed: all 1,000 pushed\./);
    expect(await jobCount()).to.equal(before + 1);
    expect(new Set(await owners(list))).to.deep.equal(new Set([gaining.username]));
  });
});
