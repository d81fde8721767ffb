import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT } from '../../cli/exit-codes';
import { closedPort, jobIdIn, runCli, show, startCli, startProxy, type RunOptions } from '../helpers/cli-run';
import { authorize, importDomains, makeReseller, names, waitForJob, type TestReseller } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { itemCounts, waitUntil } from '../helpers/resilience';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * The CLI's exit codes (cli/exit-codes.ts), one test per job state, against a really started
 * system: 0 all pushed; 1 partly failed, partly skipped, all failed, all skipped; 4 cancelled;
 * 5 suspended (and --through-suspension waiting on to the end); scheduled jobs waited for until
 * they start and end; 2 refused (no confirmation, the API's no, bad schedules); 3 unreachable.
 * The scheduler polls every 100 ms here: times are shortened through configuration only.
 */
describe('domain-push exit codes, one per job state (e2e)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let registry: ScriptedRegistry;
  let losing: TestReseller;
  let gaining: TestReseller;
  let tmp: string;
  let n = 0;

  before(async () => {
    sys = await startSystem({
      config: { CHUNK_SIZE: 20, SCHEDULER_INTERVAL_MS: 100 },
      registry: (db) => {
        registry = new ScriptedRegistry(db);
        return registry;
      },
    });
    losing = await makeReseller(sys, 'cx-losing');
    gaining = await makeReseller(sys, 'cx-gaining');
    await authorize(sys, gaining, losing);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'domain-push-cx-'));
  });
  after(async () => {
    await sys?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  afterEach(async () => {
    registry.delayMs = 0;
    if (!sys.worker) await sys.startWorker();
  });

  const target = (key = losing.key, url = sys.url) => ({ url, key });
  const cli = (args: string[], opts: RunOptions & { key?: string; url?: string } = {}) => runCli(target(opts.key, opts.url), args, opts);

  /** `count` fresh domains of the losing reseller; `locked(i)` says which are locked. */
  async function domainsOf(count: number, locked: (i: number) => boolean = () => false) {
    const list = names(`cx-${++n}`, count);
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

  async function owners(list: string[]) {
    return (await sys
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .whereIn('d.name', list)
      .pluck('r.username')) as string[];
  }

  const jobCount = async () => Number((await sys.db('bulk_jobs').count('* as n').first())?.n);
  const jobRow = (id: string) => sys.db('bulk_jobs').where({ id }).first();

  it('all pushed: push --wait exits 0, and so does status; jobs says "completed: all 5 pushed"', async () => {
    const list = await domainsOf(5);
    const r = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile(list), '--wait']);
    expect(r.code, show(r)).to.equal(EXIT.ok);
    const id = jobIdIn(r.stdout)!;
    expect(r.stdout).to.include(`Job ${id}: completed: all 5 pushed.`);
    expect(await owners(list)).to.deep.equal(list.map(() => gaining.username));
    const status = await cli(['status', id]);
    expect(status.code, show(status)).to.equal(EXIT.ok);
    expect(status.stdout).to.include(`Job ${id} (push): completed\n  completed: all 5 pushed\n`);
    const jobs = await cli(['jobs']);
    expect(jobs.stdout).to.match(
      new RegExp(`^${id}\\s+push\\s+completed\\s+cx-losing\\s+cx-gaining\\s+5/5\\s+\\S+\\s+completed: all 5 pushed$`, 'm'),
    );
  });

  it('partly failed: exit 1, the failures counted in words, and where to see why', async () => {
    const list = await domainsOf(4);
    const missing = ['cx-missing-1.example'];
    const r = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile([...list, ...missing]), '--watch']);
    expect(r.code, show(r)).to.equal(EXIT.partial);
    const id = jobIdIn(r.stdout)!;
    expect(r.stdout).to.include(`Job ${id}: completed with 1 failure (4 of 5 pushed).`);
    expect(r.stdout).to.include(`See why: domain-push items ${id} --status failed`);
    expect((await cli(['status', id])).code).to.equal(EXIT.partial);
    expect((await cli(['status', id, '--json'])).stdout).to.include('"outcome":"partly_failed"');
  });

  it('partly skipped (locked, without --apply-to-locked): exit 1', async () => {
    const list = await domainsOf(4, (i) => i === 0);
    const r = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile(list), '--wait']);
    expect(r.code, show(r)).to.equal(EXIT.partial);
    expect(r.stdout).to.include(': completed with 1 skipped (3 of 4 pushed).');
  });

  it('all failed: exit 1 and "all 3 failed", never a plain "completed"', async () => {
    const r = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile(names('cx-nobody', 3)), '--wait']);
    expect(r.code, show(r)).to.equal(EXIT.partial);
    const id = jobIdIn(r.stdout)!;
    expect(r.stdout).to.include(`Job ${id}: all 3 failed.`);
    const jobs = await cli(['jobs']);
    expect(jobs.stdout).to.match(new RegExp(`^${id}\\s+push\\s+completed\\s.*\\s0/3\\s+\\S+\\s+all 3 failed$`, 'm'));
  });

  it('all skipped: exit 1 and "nothing pushed: all 2 skipped"', async () => {
    const list = await domainsOf(2, () => true);
    const r = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile(list), '--wait']);
    expect(r.code, show(r)).to.equal(EXIT.partial);
    expect(r.stdout).to.include(': nothing pushed: all 2 skipped.');
  });

  it('cancelled inside the grace window: push --wait exits 4, every item cancelled, nothing moved; jobs never reads n/n', async () => {
    const list = await domainsOf(5);
    const waiting = startCli(target(), [
      'push',
      '--yes',
      '--to',
      gaining.username,
      '--file',
      listFile(list),
      '--start-after',
      '3600',
      '--wait',
    ]);
    const id = await waitUntil('the job id', () => jobIdIn(waiting.output().stdout));
    // The lines after the id may still be on their way through the pipe.
    await waitUntil('the start line', () => waiting.output().stdout.includes('until then:'));
    expect(waiting.output().stdout).to.include(`Job ${id} scheduled: 5 domain(s) to cx-gaining.`);
    expect(waiting.output().stdout).to.match(new RegExp(`It starts at \\S+; until then: domain-push cancel ${id} \\(nothing moves\\)`));
    expect((await jobRow(id)).status).to.equal('scheduled');

    const cancelled = await cli(['cancel', id]);
    expect(cancelled.code, show(cancelled)).to.equal(EXIT.ok);
    const r = await waiting.exited;
    expect(r.code, show(r)).to.equal(EXIT.cancelled);
    expect(r.stdout).to.include(`Job ${id}: cancelled after 0 of 5 pushed.\n  pushed 0, skipped 0, failed 0, cancelled 5 of 5.`);
    expect(await itemCounts(sys, id)).to.include({ cancelled: 5, pushed: 0, pending: 0 });
    expect(await owners(list)).to.deep.equal(list.map(() => losing.username));

    const status = await cli(['status', id]);
    expect(status.code, show(status)).to.equal(EXIT.cancelled);
    const watched = await cli(['watch', id]);
    expect(watched.code, show(watched)).to.equal(EXIT.cancelled);
    expect(watched.stdout, 'a cancelled job is never drawn at 100 %').to.match(/^cancelled 0\/5 \(0%\)/m);
    const jobs = await cli(['jobs']);
    expect(jobs.stdout).to.match(new RegExp(`^${id}\\s+push\\s+cancelled\\s.*\\s0/5\\s+\\S+\\s+cancelled after 0 of 5 pushed$`, 'm'));
    expect(jobs.stdout).to.not.match(new RegExp(`^${id}.*5/5`, 'm'));
  });

  it('suspended with items pending: push --wait stops with exit 5, watch and status say 5 too', async () => {
    const list = await domainsOf(100, () => true);
    // Two chunks (of five) stay in the workers' hands until released: the job is running, mid-way.
    const release = registry.holdUnlocks(list);
    try {
      const waiting = startCli(target(), [
        'push',
        '--yes',
        '--to',
        gaining.username,
        '--file',
        listFile(list),
        '--apply-to-locked',
        '--wait',
      ]);
      const id = await waitUntil('the job id', () => jobIdIn(waiting.output().stdout));
      await waitUntil('items in hand', async () => (await itemCounts(sys, id)).running > 0);
      const suspended = await cli(['suspend', id]);
      expect(suspended.code, show(suspended)).to.equal(EXIT.ok);
      const r = await waiting.exited;
      expect(r.code, show(r)).to.equal(EXIT.suspended);
      expect(r.stdout).to.match(new RegExp(`Job ${id}: suspended with \\d+ not started \\(0 of 100 pushed\\)\\.`));
      expect(r.stdout).to.include(`Nothing more moves until it is resumed: domain-push resume ${id}`);
      release();
      await waitUntil('the chunks in hand finished', async () => (await itemCounts(sys, id)).running === 0);
      const counts = await itemCounts(sys, id);
      expect(counts.pending, 'items still pending').to.be.greaterThan(0);
      expect((await jobRow(id)).status).to.equal('suspended');

      const watched = await cli(['watch', id]);
      expect(watched.code, show(watched)).to.equal(EXIT.suspended);
      expect(watched.stdout).to.match(new RegExp(`^suspended \\d+/100 .*\\| suspended with ${counts.pending} not started`, 'm'));
      const status = await cli(['status', id]);
      expect(status.code, show(status)).to.equal(EXIT.suspended);
      expect(status.stdout).to.include(`suspended with ${counts.pending} not started (${counts.pushed} of 100 pushed)`);

      expect((await cli(['resume', id])).code).to.equal(EXIT.ok);
      expect((await waitForJob(sys, losing, id)).status).to.equal('completed');
      expect((await cli(['status', id])).code).to.equal(EXIT.ok);
    } finally {
      release();
    }
  });

  it('--through-suspension waits through a suspension (reconnecting) and, resumed, ends with the outcome: exit 0', async () => {
    const list = await domainsOf(10);
    let streams = 0;
    const proxy = await startProxy(sys.url, (req) => {
      if (req.url?.endsWith('/events')) streams++;
      return false;
    });
    await sys.stopWorker(); // queued until we resume it with a worker back
    try {
      const waiting = startCli(target(losing.key, proxy.url), [
        'push',
        '--yes',
        '--to',
        gaining.username,
        '--file',
        listFile(list),
        '--watch',
        '--through-suspension',
      ]);
      const id = await waitUntil('the job id', () => jobIdIn(waiting.output().stdout));
      await waitUntil('the queued line', () => waiting.output().stdout.includes('queued 0/10'));
      expect((await cli(['suspend', id])).code).to.equal(EXIT.ok);
      await waitUntil('the suspended line', () => waiting.output().stdout.includes('suspended 0/10 (0%)'));
      // The server ends a suspended job's stream; the CLI reconnects instead of exiting.
      const seen = streams;
      await waitUntil('a reconnection while suspended', () => streams > seen, 15_000);
      expect(waiting.child.exitCode, show(waiting.output())).to.equal(null);
      expect(waiting.output().stdout, 'no note for each reconnection while suspended').to.not.include('reconnecting');

      expect((await cli(['resume', id])).code).to.equal(EXIT.ok);
      await sys.startWorker();
      const r = await waiting.exited;
      expect(r.code, show(r)).to.equal(EXIT.ok);
      expect(r.stdout).to.include(`Job ${id}: completed: all 10 pushed.`);
      expect(await owners(list)).to.deep.equal(list.map(() => gaining.username));
    } finally {
      await proxy.close();
    }
  });

  it('scheduled then started: push --watch waits for the start and the end (exit 0), and the job started at its time, not before', async () => {
    const list = await domainsOf(5);
    const r = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile(list), '--start-after', '2', '--watch']);
    expect(r.code, show(r)).to.equal(EXIT.ok);
    const id = jobIdIn(r.stdout)!;
    const row = await jobRow(id);
    expect(r.stdout).to.include(`Job ${id} scheduled: 5 domain(s) to cx-gaining.`);
    expect(r.stdout).to.include(`It starts at ${new Date(row.start_at).toISOString()}`);
    expect(r.stdout).to.match(
      new RegExp(`^scheduled 0/5 \\(0%\\) .*\\| scheduled to start at ${new Date(row.start_at).toISOString()}$`, 'm'),
    );
    expect(r.stdout).to.include(`Job ${id}: completed: all 5 pushed.`);
    expect(new Date(row.started_at).getTime()).to.be.at.least(new Date(row.start_at).getTime());
    expect(new Date(row.start_at).getTime() - new Date(row.created_at).getTime()).to.be.within(1900, 2100);
    expect(row.options).to.include({ start_after_seconds: 2 });
  });

  it('a scheduled job shows its start in jobs and status (exit 0); reschedule --start-at now starts it; then 409 is exit 2', async () => {
    const list = await domainsOf(3);
    const pushed = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile(list), '--start-at', 'next_cycle']);
    expect(pushed.code, show(pushed)).to.equal(EXIT.ok);
    const id = jobIdIn(pushed.stdout)!;
    const startAt = new Date((await jobRow(id)).start_at).toISOString();
    expect(new Date(startAt).getTime()).to.be.greaterThan(Date.now());
    expect(pushed.stdout).to.include(
      `It starts at ${startAt}; until then: domain-push cancel ${id} (nothing moves), or domain-push reschedule ${id}.`,
    );

    const jobs = await cli(['jobs']);
    expect(jobs.code, show(jobs)).to.equal(EXIT.ok);
    expect(jobs.stdout).to.match(new RegExp(`^${id}\\s+push\\s+scheduled\\s.*\\s0/3\\s+\\S+\\s+scheduled to start at ${startAt}$`, 'm'));
    const status = await cli(['status', id]);
    expect(status.code, show(status)).to.equal(EXIT.ok);
    expect(status.stdout).to.include(`starts at ${startAt}`).and.include('start requested: next_cycle');

    const later = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const moved = await cli(['reschedule', id, '--start-at', later]);
    expect(moved.code, show(moved)).to.equal(EXIT.ok);
    expect(moved.stdout).to.include(`Job ${id}: scheduled to start at ${later}.`);
    const now = await cli(['reschedule', id, '--start-at', 'now']);
    expect(now.code, show(now)).to.equal(EXIT.ok);
    const watched = await cli(['watch', id]);
    expect(watched.code, show(watched)).to.equal(EXIT.ok);
    expect(await owners(list)).to.deep.equal(list.map(() => gaining.username));

    const again = await cli(['reschedule', id, '--start-after', '60']);
    expect(again.code, show(again)).to.equal(EXIT.refused);
    expect(again.stderr).to.include('409 invalid_state');
    const neither = await cli(['reschedule', id]);
    expect(neither.code).to.equal(EXIT.refused);
    expect(neither.stderr).to.include('Give exactly one of --start-at');
  });

  it('a scheduled job whose authorization is withdrawn before its start fails every item at the start: exit 1', async () => {
    const losing2 = await makeReseller(sys, 'cx-losing-2');
    const gaining2 = await makeReseller(sys, 'cx-gaining-2');
    await authorize(sys, gaining2, losing2);
    const list = names('cx-revoked', 3);
    await importDomains(
      sys,
      list.map((name) => ({ name, reseller: losing2.username, locked: false })),
    );
    const pushed = await cli(['push', '--yes', '--to', gaining2.username, '--file', listFile(list), '--start-after', '3600'], {
      key: losing2.key,
    });
    expect(pushed.code, show(pushed)).to.equal(EXIT.ok);
    const id = jobIdIn(pushed.stdout)!;
    const revoked = await sys
      .http()
      .delete(`/v1/push-settings/allowed-resellers/${losing2.username}`)
      .set('Authorization', `Bearer ${gaining2.key}`);
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(204);
    expect((await cli(['reschedule', id, '--start-at', 'now'], { key: losing2.key })).code).to.equal(EXIT.ok);
    const r = await cli(['watch', id], { key: losing2.key });
    expect(r.code, show(r)).to.equal(EXIT.partial);
    expect(r.stdout).to.include(`Job ${id}: all 3 failed.`);
    const items = await cli(['items', id, '--json'], { key: losing2.key });
    for (const item of JSON.parse(items.stdout).items) expect(item.message).to.match(/^At start: /);
    expect(await owners(list)).to.deep.equal(list.map(() => losing2.username));
  });

  it('bad schedules are refused with exit 2 and create nothing', async () => {
    const list = await domainsOf(1);
    const file = listFile(list);
    const before = await jobCount();
    const cases: [string[], string][] = [
      [['--start-after', '4000'], '--start-after takes whole seconds from 0 to 3600'],
      [['--start-after', '-1'], '--start-after takes whole seconds'],
      [['--start-at', 'tomorrow'], '--start-at takes a date-time'],
      [['--start-at', 'next_cycle', '--start-after', '30'], 'Give --start-at or --start-after, not both'],
      [['--start-at', '2001-01-01T00:00:00Z'], 'is in the past'],
      [['--start-at', new Date(Date.now() + 40 * 86_400_000).toISOString()], 'at most 30 days ahead'],
      [['--no-email', '--email-results-to', 'a@b.example'], 'Give --email-results-to or --no-email, not both'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['push', '--yes', '--to', gaining.username, '--file', file, ...args]);
      expect(r.code, `${args.join(' ')}\n${show(r)}`).to.equal(EXIT.refused);
      expect(r.stderr, args.join(' ')).to.include(message);
    }
    expect(await jobCount()).to.equal(before);
  });

  it('refused without confirmation: no terminal and no --yes exits 2 before any request; nothing is submitted', async () => {
    const list = await domainsOf(3);
    let requests = 0;
    const proxy = await startProxy(sys.url, () => {
      requests++;
      return false;
    });
    try {
      const before = await jobCount();
      const fromFile = await cli(['push', '--to', gaining.username, '--file', listFile(list), '--wait'], { url: proxy.url });
      expect(fromFile.code, show(fromFile)).to.equal(EXIT.refused);
      expect(fromFile.stderr).to.include('refusing to move domains without confirmation: run on a terminal or pass --yes');
      // The list on stdin (a pipe), and no terminal anywhere: refused too.
      const fromStdin = await cli(['push', '--to', gaining.username, '--file', '-'], { url: proxy.url, input: list.join('\n') });
      expect(fromStdin.code, show(fromStdin)).to.equal(EXIT.refused);
      expect(fromStdin.stderr).to.include('refusing to move domains without confirmation');
      expect(requests, 'requests sent').to.equal(0);
      expect(await jobCount()).to.equal(before);
      expect(await owners(list)).to.deep.equal(list.map(() => losing.username));
      // A dry run changes nothing and needs no confirmation.
      const dry = await cli(['push', '--to', gaining.username, '--file', listFile(list), '--dry-run']);
      expect(dry.code, show(dry)).to.equal(EXIT.ok);
      expect(await jobCount()).to.equal(before);
    } finally {
      await proxy.close();
    }
  });

  it('refused by the API is 2; unreachable is 3', async () => {
    const stranger = await makeReseller(sys, 'cx-stranger');
    const list = await domainsOf(1);
    const r = await cli(['push', '--yes', '--to', stranger.username, '--file', listFile(list), '--wait']);
    expect(r.code, show(r)).to.equal(EXIT.refused);
    expect(r.stderr).to.include('Refused (403 not_authorized)');
    const url = `http://127.0.0.1:${await closedPort()}`;
    // (watch keeps trying for a minute before it gives up with 3: cli.test.ts has its stream cases.)
    for (const args of [
      ['status', '00000000-0000-0000-0000-000000000000'],
      ['jobs'],
      ['push', '--yes', '--to', 'x', '--file', listFile(list)],
    ]) {
      const down = await cli(args, { url });
      expect(down.code, show(down)).to.equal(EXIT.unreachable);
    }
  });

  it('results email: omitted goes to the account email, --no-email to no one, --email-results-to to that address', async () => {
    const emailOf = async (args: string[]) => {
      const list = await domainsOf(1);
      const r = await cli(['push', '--yes', '--to', gaining.username, '--file', listFile(list), ...args]);
      expect(r.code, show(r)).to.equal(EXIT.ok);
      const status = await cli(['status', jobIdIn(r.stdout)!]);
      const { options } = await jobRow(jobIdIn(r.stdout)!);
      return { options, text: status.stdout };
    };
    const byDefault = await emailOf([]);
    expect(byDefault.options.email_results_to).to.equal('ops@cx-losing.example');
    expect(byDefault.text).to.include('results to ops@cx-losing.example');
    const none = await emailOf(['--no-email']);
    expect(none.options.email_results_to).to.equal(null);
    expect(none.text).to.include('no results email');
    const given = await emailOf(['--email-results-to', 'reports@cx-losing.example']);
    expect(given.options.email_results_to).to.equal('reports@cx-losing.example');
  });
});
