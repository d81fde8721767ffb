import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { WORKER_BUILT_ARGS } from '../../bin/worker-command';
import { closedPort } from '../helpers/cli-run';
import { PG_BASE } from '../helpers/db';
import { startSmtp, toText, type SmtpPeer } from '../helpers/smtp';
import { OPERATOR_KEY, REDIS_URL } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

const ROOT = path.resolve(__dirname, '../..');
/** Preloaded into every process of the build: loading tsx, TypeScript or any dev dependency fails. */
const GUARD = path.join(ROOT, 'test/helpers/production-only.cjs');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
/** What the processes print when the guard refused a module that nothing may load in production. */
const FORBIDDEN =
  /production-only: refused (TypeScript source|dev dependency node_modules\/(tsx|typescript|@typescript|esbuild|@esbuild)\b)/;

interface Proc {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The production build as the image holds it, in a temp folder: `npm run build`'s compiler run
 * (tsconfig.build.json) into <app>/dist, package.json and the lock, the console build,
 * bin/domain-push.js, and the clone's node_modules behind a symlink. No TypeScript source is
 * there, and every process runs with plain node and GUARD, so needing tsx, TypeScript or another
 * dev dependency fails here as it would in the image. A temp folder rather than dist/ leaves a
 * developer's own build alone.
 */
describe('the compiled build (npm run build) runs with plain node (e2e)', function () {
  this.timeout(300_000);
  const procs: Proc[] = [];
  let app: string;
  let smtp: SmtpPeer;
  let dbName: string;
  let dbUrl: string;
  let apiUrl: string;
  let migrateOutput: string;
  let env: Record<string, string>;

  function run(name: string, args: string[], extraEnv: Record<string, string> = {}, input?: string): Proc {
    const child = spawn(process.execPath, ['--require', GUARD, ...args], {
      cwd: app,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', PRODUCTION_ONLY_ROOT: ROOT, ...extraEnv },
    });
    let text = '';
    child.stdout!.on('data', (b) => (text += b));
    child.stderr!.on('data', (b) => (text += b));
    child.stdin!.end(input ?? '');
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    const p: Proc = { name, child, output: () => text, exited };
    procs.push(p);
    return p;
  }

  const show = (p: Proc) => `--- ${p.name} (${p.child.exitCode ?? p.child.signalCode ?? 'running'}) ---\n${p.output().slice(-6000)}`;

  async function api(method: string, url: string, key: string, body?: unknown) {
    const res = await fetch(`${apiUrl}${url}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  }

  before(async () => {
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'domain-push-built-'));
    const tsc = spawn(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--outDir', path.join(app, 'dist')], { cwd: ROOT });
    let tscOut = '';
    tsc.stdout.on('data', (b) => (tscOut += b));
    tsc.stderr.on('data', (b) => (tscOut += b));
    const [built] = await Promise.all([
      new Promise<number | null>((resolve) => tsc.once('close', resolve)),
      ensureConsoleBuilt({ quiet: true }),
    ]);
    expect(built, tscOut).to.equal(0);
    for (const f of ['package.json', 'package-lock.json', 'bin/domain-push.js']) {
      fs.mkdirSync(path.dirname(path.join(app, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(app, f));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
    fs.mkdirSync(path.join(app, 'console'));
    fs.symlinkSync(path.join(ROOT, 'console/dist'), path.join(app, 'console/dist'));

    // A new, empty database: the compiled migrations make it.
    dbName = `dp_built_${process.pid}`;
    dbUrl = `${PG_BASE}/${dbName}`;
    const admin = knexFactory({ client: 'pg', connection: `${PG_BASE}/postgres`, pool: { min: 0, max: 1 } });
    await admin.raw(`drop database if exists ${dbName} with (force)`);
    await admin.raw(`create database ${dbName}`);
    await admin.destroy();

    smtp = await startSmtp();
    const port = await closedPort();
    apiUrl = `http://127.0.0.1:${port}`;
    env = {
      DATABASE_URL: dbUrl,
      REDIS_URL,
      SMTP_URL: smtp.url,
      ADMIN_API_KEY: OPERATOR_KEY,
      QUEUE_PREFIX: `{dpbuilt-${process.pid}}`,
      DATA_DIR: path.join(app, 'data'),
      LOG_LEVEL: 'warn',
      OUTBOX_INTERVAL_MS: '200',
      CHUNK_SIZE: '2',
      SHUTDOWN_TIMEOUT_MS: '10000',
    };
    const migrate = run('migrate', ['dist/bin/migrate.js'], env);
    const migrated = await migrate.exited;
    migrateOutput = migrate.output();
    expect(migrated.code, show(migrate)).to.equal(0);

    const apiProc = run('api', ['dist/bin/api.js'], { ...env, PORT: String(port) });
    run('worker', [...WORKER_BUILT_ARGS], env);
    await waitUntil(
      async () => {
        if (apiProc.child.exitCode !== null) throw new Error(`the API exited\n${show(apiProc)}`);
        return (await fetch(`${apiUrl}/healthz`).catch(() => undefined))?.ok;
      },
      { timeout: 60_000, interval: 100, label: 'the compiled API to answer /healthz' },
    );
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const p of procs) console.error(show(p));
  });

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await smtp?.close();
    if (env) {
      const redis = new Redis(REDIS_URL, { lazyConnect: true });
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.QUEUE_PREFIX}*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    }
    if (dbName) {
      const admin = knexFactory({ client: 'pg', connection: `${PG_BASE}/postgres`, pool: { min: 0, max: 1 } });
      await admin.raw(`drop database if exists ${dbName} with (force)`);
      await admin.destroy();
    }
    if (app) fs.rmSync(app, { recursive: true, force: true });
  });

  it('the guard makes tsx, TypeScript and dev dependencies missing, and lets production dependencies load', async () => {
    for (const [code, loads] of [
      ["require('tsx/cjs')", false],
      ["import('typescript')", false],
      ["require('vite')", false],
      ["[require('knex'), require('bullmq'), require('express')]", true],
    ] as const) {
      const p = run(`node -e ${code}`, ['-e', `Promise.resolve().then(() => ${code}).then(() => console.log('loaded'))`]);
      const { code: exit } = await p.exited;
      expect(exit === 0 && p.output().includes('loaded'), show(p)).to.equal(loads);
      if (!loads) expect(p.output(), show(p)).to.match(/production-only: refused (dev dependency|TypeScript source)/);
    }
  });

  it('npm scripts, the Dockerfile and docker-compose.yml run files of the build with plain node', () => {
    const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts['start:api']).to.equal('node dist/bin/api.js');
    expect(scripts['start:worker']).to.equal(`node ${WORKER_BUILT_ARGS.join(' ')}`);
    expect(scripts.migrate).to.equal('node dist/bin/migrate.js');
    expect(scripts.build).to.include('tsc -p tsconfig.build.json');
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(dockerfile).to.match(/^CMD \["node", "dist\/bin\/api\.js"\]$/m);
    expect(compose).to.include('"node dist/bin/migrate.js && exec node dist/bin/api.js"');
    expect(compose).to.include(`command: ["node", ${WORKER_BUILT_ARGS.map((a) => JSON.stringify(a)).join(', ')}]`);
    const code = (text: string) => text.replace(/^\s*#.*$/gm, '');
    const runtime = [
      scripts['start:api'],
      scripts['start:worker'],
      scripts.migrate,
      code(dockerfile.split(/^FROM /m).at(-1)!),
      code(compose),
    ].join('\n');
    expect(runtime).not.to.match(/\btsx\b|\.ts\b/);
    for (const file of new Set(runtime.match(/dist\/[\w/.-]+\.js/g))) expect(fs.existsSync(path.join(app, file)), file).to.equal(true);
  });

  it('the compiled migrations make a new database under the names the TypeScript ones use', async () => {
    expect(migrateOutput).to.match(/migrations up to date \(0 pending\)/);
    const db = knexFactory({ client: 'pg', connection: dbUrl, pool: { min: 0, max: 1 } });
    try {
      const names = (await db('knex_migrations').orderBy('id').select('name')).map((r: { name: string }) => r.name);
      const source = fs
        .readdirSync(path.join(ROOT, 'migrations'))
        .filter((f) => f.endsWith('.ts'))
        .sort();
      expect(names).to.deep.equal(source);
    } finally {
      await db.destroy();
    }
  });

  it('serves the console, the API docs and their assets from the build', async () => {
    const consolePage = await fetch(`${apiUrl}/console/`);
    expect(consolePage.status).to.equal(200);
    const consoleHtml = await consolePage.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(consoleHtml)?.[1];
    expect(script, consoleHtml).to.be.a('string');
    expect((await fetch(`${apiUrl}${script}`)).status).to.equal(200);

    const docs = await fetch(`${apiUrl}/docs`);
    expect(docs.status).to.equal(200);
    const docsHtml = await docs.text();
    const assets = [...new Set(docsHtml.match(/\/docs\/assets\/[\w./-]+/g))];
    expect(assets, docsHtml).not.to.be.empty;
    for (const a of assets) expect((await fetch(`${apiUrl}${a}`)).status, a).to.equal(200);

    const openapi = await (await fetch(`${apiUrl}/v1/openapi.json`)).json();
    expect(openapi.info.version).to.equal(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('pushes domains through the compiled API, worker and CLI to the end, with the results email', async () => {
    const resellers: Record<string, { key: string; company_id: string }> = {};
    for (const username of ['built-losing', 'built-gaining']) {
      const made = await api('POST', '/v1/admin/resellers', OPERATOR_KEY, {
        username,
        name: `${username} Ltd`,
        email: `ops@${username}.example`,
      });
      expect(made.status, JSON.stringify(made.body)).to.equal(201);
      resellers[username] = { key: made.body.api_key, company_id: made.body.company_id };
      const enabled = await api('PATCH', `/v1/admin/resellers/${username}`, OPERATOR_KEY, { domain_push_enabled: true });
      expect(enabled.status, JSON.stringify(enabled.body)).to.equal(200);
    }
    const allowed = await api('POST', '/v1/push-settings/allowed-resellers', resellers['built-gaining'].key, {
      reseller: resellers['built-losing'].company_id,
    });
    expect(allowed.status, JSON.stringify(allowed.body)).to.equal(201);
    const domains = Array.from({ length: 5 }, (_, i) => `built-${i}.example`);
    const imported = await api(
      'POST',
      '/v1/admin/domains/import',
      OPERATOR_KEY,
      domains.map((name, i) => ({ name, reseller: 'built-losing', locked: i === 0 })),
    );
    expect(imported.status, JSON.stringify(imported.body)).to.equal(201);

    const cli = run(
      'domain-push push',
      ['bin/domain-push.js', 'push', '--to', 'built-gaining', '--file', '-', '--apply-to-locked', '--yes', '--wait'],
      { DOMAIN_PUSH_URL: apiUrl, DOMAIN_PUSH_API_KEY: resellers['built-losing'].key },
      `${domains.join('\n')}\n`,
    );
    const { code } = await cli.exited;
    expect(code, show(cli)).to.equal(0);
    const id = /Job ([0-9a-f-]{36})/.exec(cli.output())?.[1];
    expect(id, show(cli)).to.be.a('string');

    const job = await api('GET', `/v1/jobs/${id}`, resellers['built-losing'].key);
    expect(job.body.status).to.equal('completed');
    expect(job.body.counts).to.include({ pushed: domains.length, failed: 0, skipped: 0 });
    const mail = await smtp.waitFor(
      (m) => toText(m).includes('ops@built-losing.example') && /\.csv$/.test(m.attachments[0]?.filename ?? ''),
    );
    expect(mail.attachments[0].content.toString()).to.include(domains[0]);
  });

  it('SIGTERM stops the API and the worker with exit 0, and no process loaded tsx or TypeScript', async () => {
    const servers = procs.filter((p) => p.name === 'api' || p.name === 'worker');
    expect(servers).to.have.length(2);
    for (const p of servers) p.child.kill('SIGTERM');
    for (const p of servers) expect((await p.exited).code, show(p)).to.equal(0);
    for (const p of procs.filter((q) => !q.name.startsWith('node -e'))) expect(p.output(), show(p)).not.to.match(FORBIDDEN);
  });
});
