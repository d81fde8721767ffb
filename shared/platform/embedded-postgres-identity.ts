import { spawnSync, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Who the embedded Postgres runs as. Postgres refuses to run as root, so under root (containers,
 * CI, a root shell) it runs as an unprivileged OS user; as anyone else it runs as that user.
 *
 * Under root the user is the owner of an existing cluster, else `postgres` if that OS user exists,
 * else `nobody` (which every Debian/Ubuntu system and the node:22 images have). That user often
 * cannot reach the files: a clone in /root or in a `mktemp -d` folder sits under a 0700 directory.
 * Then it runs through `setpriv` (util-linux) with one ambient capability, CAP_DAC_READ_SEARCH
 * (CAP_DAC_OVERRIDE where the container lacks it, as Docker's default set does), so it can read
 * and search its way to the binaries and to DATA_DIR/postgres, which it owns and writes. Nothing
 * on the machine is created or changed but that directory's owner. See docs/embedded-database.md
 * for why this rather than a user namespace.
 */
export interface Identity {
  /** For messages and logs: "this user", "nobody (uid 65534)", "… with CAP_DAC_READ_SEARCH". */
  describe: string;
  /** The uid and gid the data directory must belong to (root only). */
  owner?: { uid: number; gid: number };
  /** Spawn options and argv prefix that run a program as that identity. */
  spawnAs: { uid?: number; gid?: number };
  prefix: string[];
}

/** The file and arguments that run `bin args…` as `who`, and the spawn options they need. */
export function commandFor(who: Identity, bin: string, args: string[]): { file: string; args: string[]; opts: SpawnOptions } {
  if (who.prefix.length === 0) return { file: bin, args, opts: { ...who.spawnAs } };
  return { file: who.prefix[0], args: [...who.prefix.slice(1), bin, ...args], opts: {} };
}

const CAP_DAC_OVERRIDE = 1;
const CAP_DAC_READ_SEARCH = 2;
const CAP_SETPCAP = 8;

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function account(name: string): { name: string; uid: number; gid: number } | null {
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' });
  const u = id('-u');
  const g = id('-g');
  if (u.status !== 0 || g.status !== 0) return null;
  return { name, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function nameOf(uid: number): string {
  const res = spawnSync('id', ['-nu', String(uid)], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : `uid ${uid}`;
}

/** This process's permitted capabilities (a bit set), from /proc. */
function permittedCaps(): bigint {
  try {
    const line = fs
      .readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CapPrm:'));
    return line ? BigInt(`0x${line.slice(7).trim()}`) : 0n;
  } catch {
    return 0n;
  }
}

const has = (caps: bigint, cap: number) => (caps & (1n << BigInt(cap))) !== 0n;

/** What `who` cannot reach: the server binary (and its libraries) or DATA_DIR; null when both. */
function unreachable(who: Identity, postgresBin: string, dataRoot: string): string | null {
  const ok = (bin: string, args: string[]) => {
    const c = commandFor(who, bin, args);
    return spawnSync(c.file, c.args, { ...c.opts, stdio: 'ignore', env: { ...process.env, LC_ALL: 'C' } }).status === 0;
  };
  if (!ok(postgresBin, ['--version'])) return postgresBin;
  return ok('test', ['-x', dataRoot]) ? null : dataRoot;
}

/**
 * Chooses who runs the server of `dir` (DATA_DIR/postgres) and checks that it can reach the
 * binaries and DATA_DIR. Throws a one-line message saying what to do when nothing can work.
 */
export function serverIdentity(dir: string, postgresBin: string): Identity {
  if (!isRoot()) return { describe: 'this user', spawnAs: {}, prefix: [] };
  const dataRoot = path.dirname(dir);
  const st = fs.existsSync(path.join(dir, 'PG_VERSION')) ? fs.statSync(dir) : null;
  const user = st && st.uid !== 0 ? { name: nameOf(st.uid), uid: st.uid, gid: st.gid } : (account('postgres') ?? account('nobody'));
  const alternatives = 'Set DATABASE_URL=postgres://… to use a Postgres server, or run `npm start` as a non-root user';
  if (!user)
    throw new Error(
      'Running as root, and Postgres refuses to run as root: the embedded database runs as the `postgres` or `nobody` OS user, ' +
        `and neither exists here. ${alternatives}, or create one (useradd --system postgres).`,
    );
  const who = user.name === `uid ${user.uid}` ? user.name : `${user.name} (uid ${user.uid})`;
  const owner = { uid: user.uid, gid: user.gid };
  const plain: Identity = { describe: who, owner, spawnAs: owner, prefix: [] };
  const blocked = unreachable(plain, postgresBin, dataRoot);
  if (!blocked) return plain;

  // A directory on the way is private (mode 0700, as /root and `mktemp -d` folders are).
  const caps = permittedCaps();
  const cap = has(caps, CAP_DAC_READ_SEARCH) ? 'dac_read_search' : has(caps, CAP_DAC_OVERRIDE) ? 'dac_override' : null;
  const setpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  const why = !setpriv
    ? 'setpriv (util-linux) is not installed'
    : !cap
      ? 'neither CAP_DAC_READ_SEARCH nor CAP_DAC_OVERRIDE is available to this process'
      : !has(caps, CAP_SETPCAP)
        ? 'CAP_SETPCAP is not available to this process'
        : null;
  const cannot =
    `Running as root, the embedded Postgres runs as ${who}, who cannot reach ${blocked} ` +
    '(a directory on the way is private, e.g. mode 0700)';
  const moveIt = `, or put the clone and DATA_DIR where ${who} can reach them.`;
  if (why) throw new Error(`${cannot}, and it cannot be let through: ${why}. ${alternatives}${moveIt}`);
  const through: Identity = {
    describe: `${who} with CAP_${cap!.toUpperCase()}`,
    owner,
    spawnAs: {},
    // no_setuid_fixup: Postgres checks its own binary with access(2), which ignores capabilities
    // for a non-root uid unless this securebit is set (it only matters for that check here).
    prefix: [
      'setpriv',
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      '--clear-groups',
      `--inh-caps=+${cap}`,
      `--ambient-caps=+${cap}`,
      '--securebits=+no_setuid_fixup',
      '--',
    ],
  };
  if (!unreachable(through, postgresBin, dataRoot)) return through;
  throw new Error(`${cannot}, not even with CAP_${cap!.toUpperCase()} through setpriv. ${alternatives}${moveIt}`);
}

/** Gives a cluster copied or restored by root to the user that runs it (Postgres checks the owner). */
export function chownTree(dir: string, uid: number, gid: number) {
  fs.chownSync(dir, uid, gid);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid, gid);
    else fs.lchownSync(p, uid, gid);
  }
}
