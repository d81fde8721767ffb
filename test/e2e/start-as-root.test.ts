import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { deletePrefixKeys } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { freePort } from '../../shared/platform/ports';

const REPO = path.resolve(__dirname, '../..');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The files a clone of this tree holds (tracked and new, not ignored), copied as they are now. */
function copyTree(to: string) {
  const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  expect(ls.status, ls.stderr).to.equal(0);
  for (const rel of ls.stdout.split('\0').filter(Boolean)) {
    const from = path.join(REPO, rel);
    if (!fs.existsSync(from)) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
    fs.cpSync(from, path.join(to, rel), { verbatimSymlinks: true });
  }
  // What `npm ci` would install, hard-linked (fast, no download) so it sits inside the private folder.
  const cp = spawnSync('cp', ['-al', path.join(REPO, 'node_modules'), path.join(to, 'node_modules')], { encoding: 'utf8' });
  expect(cp.status, cp.stderr).to.equal(0);
}

/** Every process whose working directory or command line is inside `dir`. */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cwd.startsWith(dir) || cmd.includes(dir)) found.push(`${pid} (${cmd || cwd})`);
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return found;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * The first command of a newcomer who is root (a container, a root shell): `npm start` in a fresh
 * clone that sits in a 0700 folder (as /root and `mktemp -d` folders are), on a machine with no
 * `postgres` OS user. The clone is this tree's files and a hard-linked node_modules (no `npm ci`, to
 * keep it fast); the missing user is a mount namespace in which /etc/passwd and /etc/group are
 * copies without it, so the machine's own users are left alone. It must answer /healthz, run a
 * push, and stop everything it started on Ctrl-C.
 */
describe('npm start as root, in a 0700 folder, with no postgres OS user', function () {
  this.timeout(300_000);
  let top: string;
  let clone: string;
  let child: ChildProcess | undefined;
  let output = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let queuePrefix: string | undefined;
  let postmasterPid: number | undefined;

  before(function () {
    if (!isRoot) this.skip(); // the case is root; an ordinary user runs Postgres as itself
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (postmasterPid) {
      try {
        process.kill(postmasterPid, 'SIGQUIT');
      } catch {
        // gone
      }
    }
    if (queuePrefix) {
      await deletePrefixKeys(queuePrefix);
    }
    if (top) fs.rmSync(top, { recursive: true, force: true });
  });

  it('answers /healthz, runs a push, and Ctrl-C stops Node, Postgres and everything else it started', async () => {
    top = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-root-start-'));
    expect(fs.statSync(top).mode & 0o777).to.equal(0o700);
    clone = path.join(top, 'domain-push');
    let t0 = Date.now();
    copyTree(clone);
    const copyMs = Date.now() - t0;

    const withoutPostgres = (file: string) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => !line.startsWith('postgres:'))
        .join('\n');
    fs.writeFileSync(path.join(top, 'passwd'), withoutPostgres('/etc/passwd'));
    fs.writeFileSync(path.join(top, 'group'), withoutPostgres('/etc/group'));

    const port = await freePort();
    const script =
      'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group || exit 97; ' +
      'if id postgres >/dev/null 2>&1; then echo "the postgres user is still visible" >&2; exit 98; fi; ' +
      'exec npm start';
    t0 = Date.now();
    child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', `${top}/passwd`, `${top}/group`],
      {
        cwd: clone,
        detached: true, // its own process group: the Ctrl-C below goes to the whole group, as a terminal's does
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), npm_config_update_notifier: 'false' },
      },
    );
    child.stdout!.on('data', (b) => (output += String(b)));
    child.stderr!.on('data', (b) => (output += String(b)));
    exited = new Promise((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    const base = `http://127.0.0.1:${port}`;

    await waitUntil(
      async () => {
        if (child!.exitCode !== null) throw new Error(`npm start exited ${child!.exitCode}:\n${output}`);
        return fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      { timeout: 240_000, interval: 200, label: () => `/healthz (output so far:\n${output})` },
    );
    const healthyMs = Date.now() - t0;
    // The bound for a fresh clone here (the console build included; 7-13 s measured).
    expect(healthyMs, `npm start answered /healthz after ${healthyMs} ms`).to.be.below(60_000);
    queuePrefix = /Queue prefix:\s+(\S+)/.exec(output)?.[1];
    const pgPort = Number(/Database:\s+embedded Postgres in .* \(127\.0\.0\.1:(\d+)\)/.exec(output)?.[1]);
    expect(pgPort, output).to.be.greaterThan(0);

    // Postgres runs as nobody (the postgres user is gone here), owns its directory, and is given
    // only the capability to read through the 0700 folders on its way (no write, no other power).
    const dataDir = path.join(clone, 'data', 'postgres');
    postmasterPid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const status = fs.readFileSync(`/proc/${postmasterPid}/status`, 'utf8');
    const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).to.equal(String(nobody));
    expect(/^CapEff:\s+(\S+)/m.exec(status)?.[1]).to.equal('0000000000000004'); // CAP_DAC_READ_SEARCH alone
    expect(fs.statSync(dataDir).uid).to.equal(nobody);

    const operator = fs.readFileSync(path.join(clone, 'data', 'operator-key'), 'utf8').trim();
    expect(output).to.include(operator);
    const api = async (method: string, url: string, key: string, body?: unknown) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const reseller = async (username: string) => {
      const made = await api('POST', '/v1/admin/resellers', operator, {
        username,
        name: `${username} Ltd`,
        email: `ops@${username}.example`,
      });
      expect(made.status, JSON.stringify(made.body)).to.equal(201);
      const on = await api('PATCH', `/v1/admin/resellers/${username}`, operator, { domain_push_enabled: true });
      expect(on.status, JSON.stringify(on.body)).to.equal(200);
      return made.body as { company_id: string; api_key: string };
    };
    const losing = await reseller('root-losing');
    const gaining = await reseller('root-gaining');
    const allowed = await api('POST', '/v1/push-settings/allowed-resellers', gaining.api_key, { reseller: losing.company_id });
    expect(allowed.status, JSON.stringify(allowed.body)).to.equal(201);
    const domains = Array.from({ length: 40 }, (_, i) => `root-start-${i}.example`);
    const imported = await api(
      'POST',
      '/v1/admin/domains/import',
      operator,
      domains.map((name, i) => ({ name, reseller: 'root-losing', locked: i % 4 === 0 })),
    );
    expect(imported.status, JSON.stringify(imported.body)).to.equal(201);
    const pushed = await api('POST', '/v1/bulk-pushes', losing.api_key, {
      gaining_reseller: 'root-gaining',
      domains,
      apply_to_locked: true,
    });
    expect(pushed.status, JSON.stringify(pushed.body)).to.equal(202);
    const job = await waitUntil(
      async () => {
        const res = await api('GET', `/v1/jobs/${pushed.body.id}`, losing.api_key);
        return ['completed', 'failed', 'cancelled'].includes(res.body.status) ? res.body : null;
      },
      { timeout: 60_000, interval: 100, label: 'the push to end' },
    );
    expect(job.status, JSON.stringify(job)).to.equal('completed');
    expect(job.counts.pushed).to.equal(40);

    // Ctrl-C: the terminal sends SIGINT to the foreground process group.
    t0 = Date.now();
    process.kill(-child.pid!, 'SIGINT');
    // npm passes the Ctrl-C on and ends as Ctrl-C'd commands do (SIGINT, the shell's 130);
    // Node finishes its graceful shutdown and stops Postgres last.
    const end = await exited;
    expect(end.code === 0 || end.signal === 'SIGINT', `${JSON.stringify(end)}\n${output}`).to.equal(true);
    await waitUntil(() => processesIn(top).length === 0, {
      timeout: 10_000,
      label: () => `no process left in ${top}: ${processesIn(top).join(', ')}`,
    });
    expect(() => process.kill(-child!.pid!, 0), 'the process group is gone').to.throw();
    expect(() => process.kill(postmasterPid!, 0), 'the postmaster is gone').to.throw();
    postmasterPid = undefined;
    expect(fs.existsSync(path.join(dataDir, 'postmaster.pid')), 'Postgres shut down cleanly').to.equal(false);
    expect(await portIsFree(port), `port ${port} is free`).to.equal(true);
    expect(await portIsFree(pgPort), `port ${pgPort} is free`).to.equal(true);
    const stopMs = Date.now() - t0;
    expect(output).not.to.match(/shutdown failed|start-up failed/);
    console.log(`      copy ${copyMs} ms, npm start to /healthz ${healthyMs} ms, Ctrl-C to exit ${stopMs} ms`);
  });
});
