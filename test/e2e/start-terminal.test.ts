import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../helpers/cli-run';
import { createTestDb, type TestDb } from '../helpers/db';
import { deletePrefixKeys, REDIS_URL } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { freePort } from '../../shared/platform/ports';

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** A command of package.json run as a person runs it (npm run …), its output collected. */
function npmRun(script: string, env: NodeJS.ProcessEnv, args: string[] = []): Proc {
  const child = spawn('npm', ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

const show = (p: Proc) => `--- stdout\n${p.out()}\n--- stderr\n${p.err()}`;

/** Processes whose command line names `dir`: what a start in that DATA_DIR left running. */
function processesUsing(dir: string): string[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return cmd.includes(dir) ? [`${pid}: ${cmd}`] : [];
      } catch {
        return [];
      }
    });
}

/** Something else on a port, on every interface as domain-push listens. */
async function occupiedPort(): Promise<{ port: number; close(): Promise<void> }> {
  const other = http.createServer((_req, res) => res.end('someone else'));
  await new Promise<void>((r) => other.listen(0, r));
  return { port: (other.address() as AddressInfo).port, close: () => new Promise((r) => other.close(() => r())) };
}

const PORT_IN_USE = (port: number, who: string) =>
  new RegExp(`^Port ${port} is in use \\(${who.replace(/[()?.]/g, '\\$&')}\\)\\. Stop it or set PORT=\\d+\\.$`);

describe('npm start / npm run demo in a terminal', function () {
  this.timeout(300_000);

  describe('a port in use', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-port-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('is one line and exit 1, with nothing started and nothing left running', async () => {
      const other = await occupiedPort();
      try {
        // The embedded defaults (no DATABASE_URL, no REDIS_URL): the port is checked before any of them starts.
        const run = npmRun('demo', { PORT: String(other.port), DATA_DIR: dir, DATABASE_URL: '', REDIS_URL: '' });
        expect(await run.exited, show(run)).to.equal(1);
        expect(run.err().trim(), show(run)).to.match(PORT_IN_USE(other.port, 'another domain-push?'));
        expect(run.err()).to.not.match(/\n\s+at /);
        expect(run.out()).to.equal('');
        expect(fs.readdirSync(dir), 'DATA_DIR untouched: no database, no log').to.deep.equal([]);
        expect(processesUsing(dir)).to.deep.equal([]);
        // The other program still has its port.
        expect(await (await fetch(`http://127.0.0.1:${other.port}/`)).text()).to.equal('someone else');
      } finally {
        await other.close();
      }
    });

    it('the production API process says it in one JSON line (no stack) and exits 1', async () => {
      const other = await occupiedPort();
      const testDb = await createTestDb();
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', 'bin/api.ts'], {
          cwd: ROOT,
          env: {
            ...process.env,
            PORT: String(other.port),
            DATA_DIR: dir,
            DATABASE_URL: testDb.url,
            REDIS_URL,
            QUEUE_PREFIX: `{dpport-${process.pid}}`,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let err = '';
        child.stderr!.on('data', (d) => (err += d));
        const code = await new Promise((r) => child.on('exit', r));
        expect(code, err).to.equal(1);
        const lines = err.trim().split('\n');
        expect(lines, err).to.have.length(1);
        const line = JSON.parse(lines[0]);
        expect(line).to.include({ level: 60 });
        expect(line.msg).to.match(PORT_IN_USE(other.port, 'another domain-push?'));
        expect(line).to.not.have.property('stack');
      } finally {
        await other.close();
        await testDb.drop();
        // The process records its deployment in Redis before it finds the port taken.
        await deletePrefixKeys(`{dpport-${process.pid}}`);
      }
    });
  });

  describe('npm run demo, then urls, demo:reset, a second demo and Ctrl-C', () => {
    let dir: string;
    let testDb: TestDb;
    let port: number;
    let demo: Proc;
    let base: string;
    let env: NodeJS.ProcessEnv;
    const prefix = `{dpterm-${process.pid}}`;
    let keys: { losing: string; gaining: string };
    let operatorKey: string;
    const logFile = () => path.join(dir, 'logs', 'domain-push.log');

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-terminal-'));
      testDb = await createTestDb();
      port = await freePort();
      env = { PORT: String(port), DATA_DIR: dir, DATABASE_URL: testDb.url, REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: '' };
      demo = npmRun('demo', env);
      await waitUntil('the banner', () => demo.out().includes('Push them all'), 180_000, 200).catch((err) => {
        throw new Error(`${err.message}\n${show(demo)}`);
      });
      base = `http://localhost:${port}`;
      keys = {
        losing: /losing-demo key:\s+(dpk_\S+)/.exec(demo.out())![1],
        gaining: /gaining-demo key:\s+(dpk_\S+)/.exec(demo.out())![1],
      };
      operatorKey = /Operator key:\s+(dpo_\S+)/.exec(demo.out())![1];
    });

    after(async () => {
      if (demo?.child.exitCode === null) {
        demo.child.kill('SIGKILL');
        await demo.exited;
      }
      await testDb?.drop();
      await deletePrefixKeys(prefix);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const api = (key: string, p: string, init: RequestInit = {}) =>
      fetch(`${base}${p}`, {
        ...init,
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
      });

    it('prints the banner with the log file and the keys; requests log to the file, not the terminal', async () => {
      expect(demo.out()).to.include('domain-push is running');
      expect(demo.out()).to.include(`  Console:        ${base}/console`);
      expect(demo.out()).to.include(
        `  Logs:           ${logFile()}   (the terminal shows warnings and errors; LOG_LEVEL=debug shows every line)`,
      );
      expect(demo.out()).to.include('Print this again: npm run urls   Refill the demo data: npm run demo:reset');

      expect((await api(keys.losing, '/v1/me')).status).to.equal(200);
      const basic = `Basic ${Buffer.from(`ops:${operatorKey}`).toString('base64')}`;
      expect((await fetch(`${base}/admin/emails`, { headers: { Authorization: basic } })).status).to.equal(200);
      const lines = await waitUntil('the access log lines in the file', () => {
        const all = fs.readFileSync(logFile(), 'utf8');
        return all.includes('"GET /admin/emails 200"') && all.includes('"GET /v1/me 200"') && all;
      });
      expect(lines).to.not.include(keys.losing);
      expect(lines).to.not.include(operatorKey);
      const terminal = demo.out() + demo.err();
      expect(terminal, 'JSON lines on the terminal').to.not.include('{"level"');
      expect(terminal).to.not.include('GET /v1/me');
    });

    it('keeps the demo keys in DATA_DIR (0600); npm run urls prints the URLs and keys again', async () => {
      const file = path.join(dir, 'demo-keys.json');
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).to.include({ 'losing-demo': keys.losing, 'gaining-demo': keys.gaining });
      const urls = npmRun('urls', env);
      expect(await urls.exited, show(urls)).to.equal(0);
      expect(urls.out()).to.match(new RegExp(`^domain-push is running \\(pid ${demo.child.pid}|^domain-push is running \\(pid \\d+`));
      for (const text of [
        `  API docs:       ${base}/docs`,
        `  Dashboard:      ${base}/admin/queues`,
        `  Operator key:   ${operatorKey}`,
        `  losing-demo key:  ${keys.losing}`,
        `  gaining-demo key: ${keys.gaining}`,
        `  Logs:           ${logFile()}`,
      ])
        expect(urls.out(), urls.out()).to.include(text);
    });

    /** Submits and waits until the job is finished; returns its id. */
    async function pushed(key: string, body: Record<string, unknown>): Promise<string> {
      const res = await api(key, '/v1/bulk-pushes', { method: 'POST', body: JSON.stringify(body) });
      expect(res.status, await res.clone().text()).to.equal(202);
      const { id } = (await res.json()) as { id: string };
      await waitUntil(
        `push ${id} finished`,
        async () => jobOf(key, id).then((j) => ['completed', 'cancelled', 'failed'].includes(j.status)),
        60_000,
        200,
      );
      return id;
    }
    const jobOf = async (key: string, id: string) => (await (await api(key, `/v1/jobs/${id}`)).json()) as { status: string };
    const totalOf = async (key: string) => ((await (await api(key, '/v1/domains?limit=1')).json()) as { total: number }).total;
    const jobsOf = async (key: string) =>
      ((await (await api(key, '/v1/bulk-pushes?limit=1000')).json()) as { items: unknown[] }).items.length;

    it('gaining-demo can push demo domains back: the demo authorizes both ways', async () => {
      await pushed(keys.losing, { gaining_reseller: 'gaining-demo', domains: ['demo-00001.example'] });
      const back = await pushed(keys.gaining, { gaining_reseller: 'losing-demo', domains: ['demo-00001.example'] });
      expect((await jobOf(keys.gaining, back)).status).to.equal('completed');
    });

    it('npm run demo:reset refuses while a demo job is open, then refills every demo domain with the same keys', async () => {
      await pushed(keys.losing, {
        gaining_reseller: 'gaining-demo',
        domains: ['demo-00000.example', 'demo-00002.example'],
        apply_to_locked: true,
      });
      expect(await totalOf(keys.gaining)).to.be.at.least(2);
      const all = await api(keys.losing, '/v1/bulk-pushes', {
        method: 'POST',
        body: JSON.stringify({ gaining_reseller: 'gaining-demo', all_domains: true, apply_to_locked: true, start_after_seconds: 3600 }),
      });
      expect(all.status, await all.clone().text()).to.equal(202);
      const job = (await all.json()) as { id: string; status: string };
      expect(job.status).to.equal('scheduled');

      const refused = npmRun('demo:reset', env);
      expect(await refused.exited, show(refused)).to.equal(1);
      expect(refused.err().trim()).to.equal(
        `A demo job is still open (push ${job.id}, scheduled): cancel it (POST /v1/jobs/${job.id}/cancel) or let it finish, then run npm run demo:reset again.`,
      );

      expect((await api(keys.losing, `/v1/jobs/${job.id}/cancel`, { method: 'POST' })).status).to.equal(202);
      await waitUntil('the cancel', async () => (await jobOf(keys.losing, job.id)).status === 'cancelled', 60_000, 200);
      const jobsBefore = await jobsOf(keys.losing);

      const reset = npmRun('demo:reset', env);
      expect(await reset.exited, show(reset)).to.equal(0);
      expect(reset.out()).to.include('Demo data refilled: all 20,000 demo domains are back with losing-demo');
      expect(reset.out()).to.include(`  losing-demo key:  ${keys.losing}`);
      expect(reset.out()).to.include(`  gaining-demo key: ${keys.gaining}`);
      expect(await totalOf(keys.losing)).to.equal(20_000);
      expect(await totalOf(keys.gaining)).to.equal(0);
      // As created: demo-00000 locked, in Blue Brand, with registrant0's profile (the push had moved all three).
      const back = (await (await api(keys.losing, '/v1/domains/demo-00000.example')).json()) as Record<string, unknown>;
      expect(back).to.deep.include({ name: 'demo-00000.example', locked: true });
      expect(back.brand).to.include({ name: 'Blue Brand' });
      expect(back.profile).to.include({ username: 'registrant0' });
      expect(await jobsOf(keys.losing), 'past jobs are kept').to.equal(jobsBefore);
    });

    it('a second npm run demo on the same port is one line naming the first, which keeps running', async () => {
      const second = npmRun('demo', env);
      expect(await second.exited, show(second)).to.equal(1);
      expect(second.err().trim()).to.match(PORT_IN_USE(port, `domain-push, pid ${demoPid()}, started from this folder`));
      expect(second.out()).to.equal('');
      expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    });

    /** The pid of the running start (npm's child): from DATA_DIR/running.json, which it wrote. */
    const demoPid = () => JSON.parse(fs.readFileSync(path.join(dir, 'running.json'), 'utf8')).pid as number;

    it('Ctrl-C stops it: exit 0, a plain word on the terminal, running.json removed, nothing left running', async () => {
      const pid = demoPid();
      process.kill(pid, 'SIGINT');
      expect(await demo.exited, show(demo)).to.equal(0);
      expect(demo.out()).to.match(/Ctrl-C: stopping \(work in hand finishes first\)…\ndomain-push stopped\.\n$/);
      expect(fs.existsSync(path.join(dir, 'running.json'))).to.equal(false);
      expect(processesUsing(dir)).to.deep.equal([]);
      const urls = npmRun('urls', env);
      expect(await urls.exited).to.equal(0);
      expect(urls.out()).to.match(/^domain-push is not running from /);
      expect(urls.out()).to.include(`  losing-demo key:  ${keys.losing}`);
    });
  });
});
