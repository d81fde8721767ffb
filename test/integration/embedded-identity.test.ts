import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../shared/platform/embedded-postgres';
import { createLogger } from '../../shared/platform/logger';

const REPO = path.resolve(__dirname, '../..');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const log = createLogger('silent');
const NO_CAPS = '0000000000000000';
const DAC_READ_SEARCH = '0000000000000004';
const DAC_OVERRIDE = '0000000000000002';

function uidOf(name: string): number | null {
  const res = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  return res.status === 0 ? Number(res.stdout.trim()) : null;
}

/** The server's postmaster: its uid and effective capabilities, from /proc. */
function postmaster(server: EmbeddedPostgres) {
  const pid = Number(fs.readFileSync(path.join(server.dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s+(\\S+)`, 'm').exec(status)?.[1];
  return { pid, uid: Number(field('Uid')), capEff: field('CapEff') };
}

async function query(server: EmbeddedPostgres, sql: string) {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** test/helpers/embedded-postgres-run.ts in a process of its own, behind `prefix` (setpriv …). */
function runAlone(prefix: string[], dataDir: string, env: NodeJS.ProcessEnv = {}) {
  const argv = [...prefix, process.execPath, '--import', 'tsx', 'test/helpers/embedded-postgres-run.ts', dataDir];
  return spawnSync(argv[0], argv.slice(1), {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
}

/**
 * Who the embedded Postgres runs as (shared/platform/embedded-postgres-identity.ts). Postgres
 * refuses root, so under root it runs as the `postgres` OS user (or `nobody` where there is none),
 * with no capability where it can reach its files, and with CAP_DAC_READ_SEARCH alone where a
 * 0700 folder is on the way. As an ordinary user it runs as that user. The whole `npm start` of a
 * root newcomer is test/e2e/start-as-root.test.ts.
 */
describe('@embedded who runs the embedded Postgres', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const servers: EmbeddedPostgres[] = [];
  const expectedUid = uidOf('postgres') ?? uidOf('nobody');

  function tmp(mode: number) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-embedded-id-'));
    fs.chmodSync(dir, mode);
    dirs.push(dir);
    return dir;
  }

  async function start(dataDir: string) {
    const server = await startEmbeddedPostgres(dataDir, log);
    servers.push(server);
    return server;
  }

  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  describe('as root', () => {
    before(function () {
      if (!isRoot) this.skip();
    });

    it('runs it as an unprivileged user with no capability where that user can reach the files', async () => {
      const server = await start(tmp(0o755));
      const pm = postmaster(server);
      expect(pm.uid).to.equal(expectedUid);
      expect(pm.capEff).to.equal(NO_CAPS);
      expect(fs.statSync(server.dir).uid).to.equal(expectedUid);
      expect((await query(server, 'select 1 + 1 as two')).rows[0].two).to.equal(2);
    });

    it('lets it read through a 0700 folder with CAP_DAC_READ_SEARCH alone: it cannot write root-owned files', async () => {
      const dataDir = tmp(0o700);
      const server = await start(dataDir);
      const pm = postmaster(server);
      expect(pm.uid).to.equal(expectedUid);
      expect(pm.capEff).to.equal(DAC_READ_SEARCH);
      // DATA_DIR is root's (0700): Postgres reaches its own directory in it, and writes nothing else.
      const probe = path.join(dataDir, 'written-by-postgres');
      let error: Error | undefined;
      await query(server, `copy (select 1) to '${probe}'`).catch((err) => (error = err));
      expect(error?.message).to.match(/Permission denied/);
      expect(fs.existsSync(probe)).to.equal(false);
    });

    it('gives a cluster copied or restored by root back to its user, and starts on it', async () => {
      const dataDir = tmp(0o700);
      const first = await start(dataDir);
      await query(first, 'create table kept (n int); insert into kept values (42)');
      await first.stop();
      spawnSync('chown', ['-R', '0:0', first.dir]);
      expect(fs.statSync(first.dir).uid).to.equal(0);
      const second = await start(dataDir);
      expect(fs.statSync(second.dir).uid).to.equal(expectedUid);
      expect(fs.statSync(path.join(second.dir, 'PG_VERSION')).uid).to.equal(expectedUid);
      expect((await query(second, 'select n from kept')).rows).to.deep.equal([{ n: 42 }]);
    });

    it('takes over a server left running by a killed process and stops it at its own exit', async () => {
      const dataDir = tmp(0o700);
      const orphan = await start(dataDir);
      // Its owner "was killed": the pid in postgres.owner is of a process that has ended.
      const gone = spawnSync('true').pid!;
      fs.writeFileSync(path.join(dataDir, 'postgres.owner'), String(gone));
      const pid = postmaster(orphan).pid;
      const again = await start(dataDir);
      expect(postmaster(again).pid).to.equal(pid);
      await again.stop();
      expect(() => process.kill(pid, 0)).to.throw();
    });

    it("uses CAP_DAC_OVERRIDE in a container's default capability set, which lacks CAP_DAC_READ_SEARCH", function () {
      if (spawnSync('setpriv', ['--version']).status !== 0) this.skip();
      const dataDir = tmp(0o700);
      // Docker's (and containerd's) default set for root.
      const docker =
        '-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap';
      const res = runAlone(['setpriv', '--inh-caps=-all', `--bounding-set=${docker}`, '--'], dataDir);
      expect(res.status, res.stdout + res.stderr).to.equal(0);
      const seen = JSON.parse(res.stdout.trim().split('\n').pop()!);
      expect(seen).to.include({ user: 'postgres', two: 2, uid: expectedUid, capEff: DAC_OVERRIDE });
    });

    it('says in one line what to do when the user cannot reach the files and no capability can let it through', function () {
      const setpriv = spawnSync('setpriv', ['--version']);
      if (setpriv.status !== 0) this.skip();
      const dataDir = tmp(0o700);
      // Root without CAP_DAC_READ_SEARCH and CAP_DAC_OVERRIDE (a container that dropped them).
      const res = runAlone(['setpriv', '--inh-caps=-all', '--bounding-set=-dac_read_search,-dac_override', '--'], dataDir);
      expect(res.status, res.stdout + res.stderr).to.equal(1);
      const message = res.stderr.trim();
      expect(message.split('\n'), message).to.have.length(1);
      expect(message).to.include('cannot reach');
      expect(message).to.include('neither CAP_DAC_READ_SEARCH nor CAP_DAC_OVERRIDE is available');
      expect(message).to.include('DATABASE_URL=');
      expect(message).to.include('non-root user');
      expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).to.equal(false);
    });
  });

  describe('as an ordinary user', () => {
    it('runs it as that user, with no capability', function () {
      let prefix: string[] = [];
      let env: NodeJS.ProcessEnv = {};
      const dataDir = tmp(0o700);
      if (isRoot) {
        // Become an ordinary user (nobody) for the whole process, as a person's shell would be.
        if (spawnSync('setpriv', ['--version']).status !== 0) this.skip();
        const uid = uidOf('nobody')!;
        fs.chownSync(dataDir, uid, uid);
        prefix = ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--'];
        env = { HOME: dataDir };
      }
      const res = runAlone(prefix, dataDir, env);
      expect(res.status, res.stdout + res.stderr).to.equal(0);
      const seen = JSON.parse(res.stdout.trim().split('\n').pop()!);
      expect(seen).to.include({ user: 'postgres', two: 2, capEff: NO_CAPS });
      expect(seen.uid).to.equal(isRoot ? uidOf('nobody') : process.getuid!());
      expect(() => process.kill(seen.pid, 0), 'stopped').to.throw();
    });
  });
});
