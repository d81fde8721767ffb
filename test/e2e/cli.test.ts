import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  BIN,
  COVERAGE_ENV,
  closedPort,
  jobIdIn,
  ROOT,
  runCli,
  show,
  startProxy as proxyTo,
  type Run,
  type RunOptions,
} from '../helpers/cli-run';
import { parseCsvRecords } from '../helpers/csv';
import { authorize, importDomains, makeReseller, names, waitForJob, type TestReseller } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { itemCounts, waitUntil } from '../helpers/resilience';
import { startSystem, type TestSystem } from '../helpers/system';

const ESC = '\u001b';
const LOSING = 'cli-losing';
const GAINING = 'cli-gaining';

interface CliOptions extends RunOptions {
  key?: string;
  url?: string;
}

let sys: TestSystem;
let registry: ScriptedRegistry;
let losing: TestReseller;
let gaining: TestReseller;
let tmp: string;

/** The real `domain-push` executable, with no controlling terminal (see startCli); as the losing reseller unless told. */
const cli = (args: string[], opts: CliOptions = {}): Promise<Run> =>
  runCli({ url: opts.url ?? sys.url, key: opts.key ?? losing.key }, args, opts);

function listFile(name: string, text: string) {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

async function owners(domains: string[]) {
  const rows = await sys
    .db('domains as d')
    .join('resellers as r', 'r.id', 'd.reseller_id')
    .whereIn('d.name', domains)
    .select('d.name', 'r.username as owner', 'd.locked');
  return new Map(rows.map((r: { name: string; owner: string; locked: boolean }) => [r.name, r]));
}

/** A proxy in front of the API that can cut event streams short or answer 429, as a deployment does. */
const startProxy = (tamper: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) => proxyTo(sys.url, tamper);

describe('domain-push CLI against a running system (e2e)', function () {
  this.timeout(120_000);

  before(async () => {
    sys = await startSystem({
      config: { CHUNK_SIZE: 20 },
      registry: (db) => {
        registry = new ScriptedRegistry(db);
        return registry;
      },
    });
    losing = await makeReseller(sys, LOSING);
    gaining = await makeReseller(sys, GAINING);
    await authorize(sys, gaining, losing);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'domain-push-cli-'));
  });
  after(async () => {
    await sys?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  // A test that stops the worker to hold a job still gets it back, even when it fails midway.
  afterEach(async () => {
    registry.delayMs = 0;
    if (!sys.worker) await sys.startWorker();
  });

  it('push --file prints the job id and exits 0 on 202; watch then follows it to completed and exits 0', async () => {
    const domains = names('cli-file', 120);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: false })),
    );
    // One per line, some lines holding several names separated by commas, blank lines, CRLF.
    const text = `${domains.slice(0, 60).join('\n')}\r\n\n${domains.slice(60, 90).join(', ')}\n${domains.slice(90).join(',')}\n`;
    const pushed = await cli(['push', '--yes', '--to', GAINING, '--file', listFile('list.txt', text)]);
    expect(pushed.code, show(pushed)).to.equal(0);
    const id = jobIdIn(pushed.stdout)!;
    expect(id, show(pushed)).to.be.a('string');
    expect(pushed.stdout).to.include(`120 domain(s) to ${GAINING}`).and.include(`domain-push watch ${id}`);

    const watched = await cli(['watch', id]);
    expect(watched.code, show(watched)).to.equal(0);
    // Not a terminal: plain lines, no control characters, the last one at 100 %.
    expect(watched.stdout).to.not.include(ESC);
    expect(watched.stdout).to.match(/^completed 120\/120 \(100%\) \| pushed 120, skipped 0, failed 0, cancelled 0/m);
    expect(watched.stdout).to.include(`Job ${id}: completed: all 120 pushed.\n  pushed 120, skipped 0, failed 0, cancelled 0 of 120.`);
    const state = await owners(domains);
    for (const d of domains) expect(state.get(d)?.owner, d).to.equal(GAINING);
  });

  it('a list read from stdin as CSV (first column, header dropped) is pushed with --wait and exits 0', async () => {
    const domains = names('cli-csv', 30);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: false })),
    );
    const csv = `domain,note\n${domains.map((d, i) => `${d},"row ${i}, with a comma"`).join('\n')}\n`;
    const r = await cli(['push', '--yes', '--to', GAINING, '--file', '-', '--wait'], { input: csv });
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(/: completed: all 30 pushed\.\n {2}pushed 30, skipped 0, failed 0, cancelled 0 of 30\./);
    const state = await owners(domains);
    for (const d of domains) expect(state.get(d)?.owner, d).to.equal(GAINING);
  });

  it('a job with failed and skipped items exits 1, and items --status failed --json lists the failures with reasons', async () => {
    const domains = names('cli-mixed', 10);
    await importDomains(
      sys,
      domains.map((name, i) => ({ name, reseller: LOSING, locked: i < 2 })),
    );
    const missing = ['cli-missing-1.example', 'cli-missing-2.example'];
    const file = listFile('mixed.txt', [...domains, ...missing].join('\n'));
    const r = await cli(['push', '--yes', '--to', GAINING, '--file', file, '--watch']);
    expect(r.code, show(r)).to.equal(1);
    const id = jobIdIn(r.stdout)!;
    expect(r.stdout).to.include(
      `Job ${id}: completed with 2 failures and 2 skipped (8 of 12 pushed).\n  pushed 8, skipped 2, failed 2, cancelled 0 of 12.`,
    );
    expect(r.stdout).to.include(`domain-push items ${id} --status failed`);

    const items = await cli(['items', id, '--status', 'failed', '--json']);
    expect(items.code, show(items)).to.equal(0);
    const failed = JSON.parse(items.stdout).items as { domain: string; status: string; reason: string }[];
    expect(failed.map((i) => [i.domain, i.status, i.reason]).sort()).to.deep.equal(missing.map((d) => [d, 'failed', 'not_found']));

    const status = await cli(['status', id]);
    expect(status.code, 'status of a job that ended with failures').to.equal(1);
    expect(status.stdout).to.include(`Job ${id} (push): completed`).and.include('pushed 8, skipped 2, failed 2');
    const state = await owners(domains);
    expect(state.get(domains[0])).to.deep.include({ owner: LOSING, locked: true });
  });

  it('a refused push exits 2 with the API code and message, and creates nothing', async () => {
    const stranger = await makeReseller(sys, 'cli-stranger');
    await importDomains(sys, [{ name: 'cli-refused.example', reseller: LOSING, locked: false }]);
    const before = await sys.db('bulk_jobs').count('* as n').first();
    const r = await cli(['push', '--yes', '--to', stranger.username, '--file', '-'], { input: 'cli-refused.example\n' });
    expect(r.code, show(r)).to.equal(2);
    expect(r.stderr).to.include('Refused (403 not_authorized)').and.include(`"${stranger.username}" has not authorized pushes from you`);
    expect(await sys.db('bulk_jobs').count('* as n').first()).to.deep.equal(before);
    expect((await owners(['cli-refused.example'])).get('cli-refused.example')?.owner).to.equal(LOSING);
  });

  it('bad names are refused with exit 2 and pointed at by their line in the file; --json prints the API error', async () => {
    const file = listFile('bad.txt', 'cli-good.example\n\nnot_a_domain!\ncli-also-good.example, -bad-.example\n');
    const r = await cli(['--json', 'push', '--yes', '--to', GAINING, '--file', file]);
    expect(r.code, show(r)).to.equal(2);
    expect(r.stderr).to.include('invalid_domains').and.include('line 3: "not_a_domain!"').and.include('line 4: "-bad-.example"');
    const body = JSON.parse(r.stdout);
    expect(body.error.code).to.equal('invalid_domains');
    expect(body.error.details.invalid.map((i: { value: string }) => i.value)).to.deep.equal(['not_a_domain!', '-bad-.example']);
  });

  it('usage errors and a missing API key exit 2 before any request', async () => {
    const neither = await cli(['push', '--to', GAINING]);
    expect(neither.code, show(neither)).to.equal(2);
    expect(neither.stderr).to.include('Give exactly one of --file');
    const noKey = await cli(['jobs'], { env: { DOMAIN_PUSH_API_KEY: undefined } });
    expect(noKey.code, show(noKey)).to.equal(2);
    expect(noKey.stderr).to.include('DOMAIN_PUSH_API_KEY is not set');
    const badKey = await cli(['jobs'], { key: 'not-a-key' });
    expect(badKey.code, show(badKey)).to.equal(2);
    expect(badKey.stderr).to.include('401 unauthorized').and.include('Check DOMAIN_PUSH_API_KEY');
    const unknown = await cli(['status', '00000000-0000-0000-0000-000000000000']);
    expect(unknown.code, show(unknown)).to.equal(2);
    expect(unknown.stderr).to.include('404');
  });

  it('an unreachable API exits 3 and says which URL it tried', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await cli(['push', '--yes', '--to', GAINING, '--file', '-'], { url, input: 'cli-unreachable.example\n' });
    expect(r.code, show(r)).to.equal(3);
    expect(r.stderr).to.include(`Cannot reach ${url}`).and.include('ECONNREFUSED');
    // Our own idempotency key was used for the retries; the user is told how to check safely.
    expect(r.stderr).to.match(/--idempotency-key cli-[0-9a-f-]{36}/);
    const status = await cli(['status', 'x'], { url });
    expect(status.code).to.equal(3);
  });

  it('a 429 from the API is a refusal for now: exit 2 with the Retry-After the server gave', async () => {
    const proxy = await startProxy((req, res) => {
      if (req.method !== 'POST') return false;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '17' });
      res.end(JSON.stringify({ error: { code: 'rate_limited', message: 'Too many bulk pushes in flight.' } }));
      return true;
    });
    try {
      const r = await cli(['push', '--yes', '--to', GAINING, '--file', '-'], { url: proxy.url, input: 'cli-429.example\n' });
      expect(r.code, show(r)).to.equal(2);
      expect(r.stderr).to.include('Refused (429 rate_limited): Too many bulk pushes in flight. Retry after 17 s.');
    } finally {
      await proxy.close();
    }
  });

  it('watch waits out a 429 on its event stream (Retry-After) instead of giving up, then follows the job to the end', async () => {
    const domains = names('cli-watch-429', 5);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: false })),
    );
    const refusals: number[] = [];
    const proxy = await startProxy((req, res) => {
      if (!req.url?.endsWith('/events') || refusals.length >= 1) return false;
      refusals.push(Date.now());
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { code: 'rate_limited', message: 'Too many event streams.' } }));
      return true;
    });
    try {
      const pushed = await cli(['push', '--yes', '--json', '--to', GAINING, '--file', '-'], { input: domains.join('\n') });
      const { id } = JSON.parse(pushed.stdout);
      const watched = await cli(['watch', id], { url: proxy.url });
      expect(watched.code, show(watched)).to.equal(0);
      expect(refusals).to.have.length(1);
      expect(watched.stdout).to.include('(reconnecting in 1000 ms: too many requests)').and.include(`Job ${id}: completed: all 5 pushed.`);
    } finally {
      await proxy.close();
    }
  });

  it('Ctrl-C stops watching with exit 130 and says how to watch again; the job itself goes on', async () => {
    const domains = names('cli-sigint', 5);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: false })),
    );
    await sys.stopWorker(); // the job stays queued while we watch it
    const pushed = await cli(['push', '--yes', '--json', '--to', GAINING, '--file', '-'], { input: domains.join('\n') });
    const { id } = JSON.parse(pushed.stdout);
    const child = spawn(BIN, ['watch', id], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...COVERAGE_ENV, DOMAIN_PUSH_URL: sys.url, DOMAIN_PUSH_API_KEY: losing.key },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number | null>((r) => child.once('close', r));
    await waitUntil('the first progress line', async () => stdout.includes('queued 0/5'));
    child.kill('SIGINT');
    expect(await exited, `${stdout}\n${stderr}`).to.equal(130);
    expect(stderr).to.include(`Stopped watching; the job goes on. Watch again: domain-push watch ${id}`);
    expect((await sys.db('bulk_jobs').where({ id }).first()).status).to.equal('queued');
    await sys.startWorker();
    expect((await waitForJob(sys, losing, id)).status).to.equal('completed');
  });

  it('--json output parses: push, status, jobs', async () => {
    const domains = names('cli-json', 5);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: false })),
    );
    const pushed = await cli(['push', '--yes', '--json', '--to', GAINING, '--file', '-', '--idempotency-key', 'cli-json-1'], {
      input: [...domains, domains[0]].join('\n'),
    });
    expect(pushed.code, show(pushed)).to.equal(0);
    const job = JSON.parse(pushed.stdout);
    expect(job).to.include({ total: 5, duplicates_removed: 1 });
    // The same key and list again: the same job, not a second one.
    const again = await cli(['push', '--yes', '--json', '--to', GAINING, '--file', '-', '--idempotency-key', 'cli-json-1'], {
      input: [...domains, domains[0]].join('\n'),
    });
    expect(again.code, show(again)).to.equal(0);
    expect(JSON.parse(again.stdout).id).to.equal(job.id);

    await waitForJob(sys, losing, job.id);
    // --wait --json: one JSON document, the final state.
    const waited = await cli(['push', '--yes', '--json', '--wait', '--to', GAINING, '--file', '-', '--idempotency-key', 'cli-json-1'], {
      input: [...domains, domains[0]].join('\n'),
    });
    expect(waited.code, show(waited)).to.equal(0);
    expect(JSON.parse(waited.stdout)).to.include({ id: job.id, status: 'completed' });
    const status = await cli(['status', job.id, '--json']);
    expect(status.code, show(status)).to.equal(0);
    const view = JSON.parse(status.stdout);
    expect(view).to.include({ id: job.id, status: 'completed', total: 5, gaining_reseller: GAINING });
    expect(view.counts).to.include({ pushed: 5, failed: 0 });

    const jobs = await cli(['jobs', '--json', '--limit', '50']);
    expect(jobs.code, show(jobs)).to.equal(0);
    expect(JSON.parse(jobs.stdout).items.map((j: { id: string }) => j.id)).to.include(job.id);
    // The gaining side sees it too, as a job received.
    const received = await cli(['jobs'], { key: gaining.key });
    expect(received.code, show(received)).to.equal(0);
    expect(received.stdout).to.match(
      new RegExp(`${job.id}\\s+push\\s+completed\\s+${LOSING}\\s+${GAINING}\\s+5/5\\s.*completed: all 5 pushed$`, 'm'),
    );
  });

  it('items --csv writes the API CSV to stdout, and it parses', async () => {
    const domains = names('cli-items', 25);
    await importDomains(
      sys,
      domains.map((name, i) => ({ name, reseller: LOSING, locked: i % 5 === 0 })),
    );
    const r = await cli(['push', '--yes', '--to', GAINING, '--file', '-', '--apply-to-locked', '--wait'], { input: domains.join('\n') });
    expect(r.code, show(r)).to.equal(0);
    const id = jobIdIn(r.stdout)!;
    const csv = await cli(['items', id, '--csv']);
    expect(csv.code, show(csv)).to.equal(0);
    const rows = parseCsvRecords(csv.stdout);
    expect(rows).to.have.length(25);
    expect(Object.keys(rows[0])).to.deep.equal(['domain', 'status', 'reason', 'message', 'was_locked', 'relocked', 'finished_at']);
    expect(rows.map((row) => row.domain).sort()).to.deep.equal([...domains].sort());
    for (const row of rows) expect(row.status, row.domain).to.equal('pushed');
    expect(rows.filter((row) => row.was_locked === 'true' && row.relocked === 'true')).to.have.length(5);
    // The CSV feeds straight back in as a list (header recognised, first column taken).
    const dry = await cli(['push', '--to', GAINING, '--file', '-', '--dry-run'], { input: csv.stdout });
    expect(dry.code, show(dry)).to.equal(1);
    expect(dry.stdout).to.include('Predicted: pushed 0, skipped 0, failed 25.').and.include('not_owned');
  });

  it('suspend, resume and cancel a job from the CLI; a second cancel is refused with exit 2', async () => {
    const domains = names('cli-control', 200);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: true })),
    );
    await sys.stopWorker(); // the job waits in the queue while we suspend and resume it
    try {
      const pushed = await cli(['push', '--yes', '--json', '--to', GAINING, '--file', '-', '--apply-to-locked'], {
        input: domains.join('\n'),
      });
      expect(pushed.code, show(pushed)).to.equal(0);
      const { id } = JSON.parse(pushed.stdout);

      const suspended = await cli(['suspend', id]);
      expect(suspended.code, show(suspended)).to.equal(0);
      expect(suspended.stdout).to.include(`Job ${id}: suspended.`);
      expect((await sys.db('bulk_jobs').where({ id }).first()).status).to.equal('suspended');

      const resumed = await cli(['resume', id, '--json']);
      expect(resumed.code, show(resumed)).to.equal(0);
      expect(JSON.parse(resumed.stdout).status).to.be.oneOf(['queued', 'running']);

      // Slow unlocks and relocks: the job runs for seconds, long enough to cancel it midway.
      registry.delayMs = 300;
      await sys.startWorker();
      await waitUntil('some items pushed', async () => (await itemCounts(sys, id)).pushed > 0);
      const cancelled = await cli(['cancel', id]);
      expect(cancelled.code, show(cancelled)).to.equal(0);
      expect(cancelled.stdout).to.match(new RegExp(`Job ${id}: (cancelling|cancelled)\\.`));
      const job = await waitForJob(sys, losing, id);
      expect(job.status).to.equal('cancelled');
      expect(job.counts.pushed).to.be.greaterThan(0);
      expect(job.counts.cancelled).to.be.greaterThan(0);

      const watched = await cli(['watch', id]);
      expect(watched.code, 'a cancelled job has its own exit code').to.equal(4);
      expect(watched.stdout).to.include(`Job ${id}: cancelled after ${job.counts.pushed} of 200 pushed.\n  pushed ${job.counts.pushed},`);
      const again = await cli(['cancel', id]);
      expect(again.code, show(again)).to.equal(2);
      expect(again.stderr).to.include('409 job_finished');
    } finally {
      if (!sys.worker) await sys.startWorker();
    }
  });

  it('--existing-profile takes the password from DOMAIN_PUSH_PROFILE_PASSWORD; it appears in no output and no job view', async () => {
    const password = 'cli-s3cret-Pa55word';
    const prof = await sys
      .http()
      .post('/v1/profiles')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ domain: 'cli-profile.example', username: 'cli-profile-user', password });
    expect(prof.status, JSON.stringify(prof.body)).to.equal(201);
    const domains = names('cli-prof', 4);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: false })),
    );
    const args = ['push', '--yes', '--to', GAINING, '--file', '-', '--existing-profile', 'cli-profile.example,cli-profile-user', '--watch'];
    const r = await cli(args, { input: domains.join('\n'), env: { DOMAIN_PUSH_PROFILE_PASSWORD: password } });
    expect(r.code, show(r)).to.equal(0);
    const id = jobIdIn(r.stdout)!;
    expect(r.stdout + r.stderr).to.not.include(password);
    const status = await cli(['status', id, '--json']);
    expect(status.stdout).to.not.include(password);
    expect(JSON.parse(status.stdout).options.profile).to.deep.equal({
      mode: 'existing',
      domain: 'cli-profile.example',
      username: 'cli-profile-user',
    });
    expect(JSON.stringify(await sys.db('bulk_jobs').where({ id }).first())).to.not.include(password);
    const attached = await sys
      .db('domains as d')
      .join('profiles as p', 'p.id', 'd.profile_id')
      .whereIn('d.name', domains)
      .pluck('p.username');
    expect(attached).to.deep.equal(domains.map(() => 'cli-profile-user'));

    // A wrong password is refused without saying which part was wrong.
    const wrong = await cli(args, { input: domains.join('\n'), env: { DOMAIN_PUSH_PROFILE_PASSWORD: 'wrong-password' } });
    expect(wrong.code, show(wrong)).to.equal(2);
    expect(wrong.stderr).to.include('invalid_profile_credentials');
    // There is no way to give it on the command line, and no terminal to ask on: refused.
    const argv = await cli([...args, '--password', password], { input: domains.join('\n') });
    expect(argv.code, show(argv)).to.equal(2);
    expect(argv.stderr).to.include("unknown option '--password'");
    const noTty = await cli(args, { input: domains.join('\n') });
    expect(noTty.code, show(noTty)).to.equal(2);
    expect(noTty.stderr).to.include('set DOMAIN_PUSH_PROFILE_PASSWORD or run in a terminal');
  });

  it('in a terminal: the password is asked for without echo, and watch draws a progress bar with rate and ETA', async function () {
    if (!fs.existsSync('/usr/bin/script')) this.skip(); // util-linux `script` gives the CLI a pseudo-terminal
    const password = 'cli-tty-Pa55word';
    const prof = await sys
      .http()
      .post('/v1/profiles')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ domain: 'cli-tty.example', username: 'cli-tty-user', password });
    expect(prof.status).to.equal(201);
    const domains = names('cli-tty', 60);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: true })),
    );
    const file = listFile('tty.txt', domains.join('\n'));
    await sys.stopWorker(); // the job starts only once the bar is drawn, so the bar sees it run
    const command = `stty cols 200; ${BIN} push --yes --to ${GAINING} --file ${file} --apply-to-locked --existing-profile cli-tty.example,cli-tty-user --watch`;
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...COVERAGE_ENV,
        TERM: 'xterm',
        DOMAIN_PUSH_URL: sys.url,
        DOMAIN_PUSH_API_KEY: losing.key,
      },
    });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    const exited = new Promise<number | null>((r) => child.once('close', r));
    // Type only once the prompt is up (echo is off from then on).
    await waitUntil('the password prompt', async () => output.includes('Password for profile cli-tty.example, cli-tty-user: '));
    child.stdin.write(`${password}\r`);
    await waitUntil('the bar at 0 %', async () => output.includes(' 0% | 0/60'));
    registry.delayMs = 300;
    await sys.startWorker();
    const code = await exited;
    child.stdin.end();
    expect(code, output).to.equal(0);
    expect(output, 'the typed password is never echoed').to.not.include(password);
    const plain = output.replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '');
    expect(plain, output).to.match(/\u2588+ 100% \| 60\/60 \| [\d.]+\/s \| ETA --/);
    expect(plain, plain).to.match(/\| [\d.]+\/s \| ETA \d+s \| running: pushed \d+/);
    expect(plain).to.include('completed: all 60 pushed.').and.include('pushed 60, skipped 0, failed 0, cancelled 0 of 60.');
    expect(output, 'the cursor was hidden while drawing, then shown').to.include(`${ESC}[?25l`).and.include(`${ESC}[?25h`);
  });

  it('watch reconnects when the server ends the stream early, after its retry: delay and with Last-Event-ID', async () => {
    const domains = names('cli-reconnect', 40);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: true })),
    );
    // Each stream is cut after its first event, the way a capped stream lifetime ends it.
    const connections: { at: number; lastEventId?: string }[] = [];
    const target = new URL(sys.url);
    const proxy = await startProxy((req, res) => {
      if (!req.url?.endsWith('/events')) return false;
      connections.push({ at: Date.now(), lastEventId: req.headers['last-event-id'] as string | undefined });
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: 'GET', headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        res.write(`retry: 400\nid: cut-${connections.length}\n\n`);
        let seen = '';
        upRes.on('data', (chunk) => {
          seen += chunk;
          const end = seen.indexOf('\n\n');
          if (end === -1) return;
          // The proxy decides retry and id: the server's own are taken out of the event it passes on.
          res.end(seen.slice(0, end + 2).replace(/^(?:id|retry):.*\n/gm, ''));
          upRes.destroy();
        });
      });
      up.end();
      return true;
    });
    await sys.stopWorker(); // the job waits until the stream has been cut a few times
    try {
      const pushed = await cli(['push', '--yes', '--json', '--to', GAINING, '--file', '-', '--apply-to-locked'], {
        input: domains.join('\n'),
      });
      const { id } = JSON.parse(pushed.stdout);
      const watching = cli(['watch', id], { url: proxy.url });
      await waitUntil('three connections', async () => connections.length >= 3);
      await sys.startWorker();
      const watched = await watching;
      expect(watched.code, show(watched)).to.equal(0);
      expect(watched.stdout).to.include(`Job ${id}: completed: all 40 pushed.`);
      expect(connections.length, 'reconnections').to.be.greaterThan(1);
      expect(connections[0].lastEventId).to.equal(undefined);
      for (let i = 1; i < connections.length; i++) {
        expect(connections[i].lastEventId, `connection ${i}`).to.equal(`cut-${i}`);
        expect(connections[i].at - connections[i - 1].at, `gap before connection ${i}`).to.be.at.least(390);
      }
      expect(watched.stdout).to.include('(reconnecting in 400 ms: the stream ended)');
    } finally {
      await proxy.close();
    }
  });
});
