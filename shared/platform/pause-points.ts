import fs from 'node:fs';
import path from 'node:path';

/**
 * Named points where a fault test can freeze this process (as a VM pause, a debugger or a long GC
 * would). A no-op unless the fault harness turns it on.
 *
 * Turned on by the environment, read once when this module loads (unset: `pausePoint` returns at
 * its first line):
 * - `DOMAIN_PUSH_PAUSE_AT`: comma-separated rules, each `point:N` (freeze at the N-th time this
 *   process reaches the point) or `point:p=0.25` (freeze at each passage with that probability,
 *   drawn from `DOMAIN_PUSH_PAUSE_SEED`, so a schedule replays).
 * - `DOMAIN_PUSH_PAUSE_DIR`: where markers are written; a test waits for them. Before freezing, the
 *   process writes `<pid>.<seq>.<point>.paused` there (JSON: pid, point, occurrence) and a JSON log
 *   line to stderr, then stops itself with SIGSTOP; the test resumes it with SIGCONT (or kills it).
 * - `DOMAIN_PUSH_PAUSE_TRACE=1`: every passage of every point also leaves a `.passed` marker, so a
 *   test can wait for a process to reach a point without freezing it there.
 * - `DOMAIN_PUSH_PAUSE_ONCE=1`: several processes share the rules and the marker dir: a process
 *   freezes at most once, and each rule freezes only the first process to claim it (an exclusive
 *   `claim.<rule index>` file), so a test can start all its workers at once and still freeze exactly one
 *   at `take` and another (its successor) at `after_unlock`.
 */
export type PausePoint = 'take' | 'before_take_commit' | 'after_unlock' | 'before_relock' | 'before_send';

const PAUSE_POINTS: readonly PausePoint[] = ['take', 'before_take_commit', 'after_unlock', 'before_relock', 'before_send'];

interface Rule {
  point: PausePoint;
  /** Freeze at this occurrence (1-based)… */
  nth?: number;
  /** …or at each occurrence with this probability. */
  p?: number;
}

interface Plan {
  rules: Rule[];
  dir: string | null;
  trace: boolean;
  once: boolean;
  pausedBefore: boolean;
  random: () => number;
  seen: Map<PausePoint, number>;
  seq: number;
}

/** mulberry32: a small seeded generator, so `p=` schedules replay from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses the rules of `DOMAIN_PUSH_PAUSE_AT`; throws on a rule it does not understand (a typo would silently test nothing). */
function parsePauseRules(spec: string): Rule[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((rule) => {
      const [point, when = '1'] = rule.split(':');
      if (!PAUSE_POINTS.includes(point as PausePoint)) throw new Error(`DOMAIN_PUSH_PAUSE_AT: unknown pause point "${point}"`);
      const prob = /^p=(0(\.\d+)?|1(\.0+)?)$/.exec(when);
      if (prob) return { point: point as PausePoint, p: Number(when.slice(2)) };
      if (!/^[1-9]\d*$/.test(when)) throw new Error(`DOMAIN_PUSH_PAUSE_AT: "${rule}" is neither point:N nor point:p=0.x`);
      return { point: point as PausePoint, nth: Number(when) };
    });
}

function planFrom(env: NodeJS.ProcessEnv): Plan | null {
  const spec = env.DOMAIN_PUSH_PAUSE_AT ?? '';
  const trace = env.DOMAIN_PUSH_PAUSE_TRACE === '1';
  if (!spec && !trace) return null;
  const dir = env.DOMAIN_PUSH_PAUSE_DIR || null;
  if (dir) fs.mkdirSync(dir, { recursive: true });
  return {
    rules: parsePauseRules(spec),
    dir,
    trace,
    once: env.DOMAIN_PUSH_PAUSE_ONCE === '1',
    pausedBefore: false,
    random: seededRandom(Number(env.DOMAIN_PUSH_PAUSE_SEED ?? 1)),
    seen: new Map(),
    seq: 0,
  };
}

const plan: Plan | null = planFrom(process.env);

function mark(p: Plan, name: PausePoint, occurrence: number, kind: 'paused' | 'passed') {
  const seq = ++p.seq;
  const body = { pid: process.pid, point: name, occurrence, seq, kind, at: Date.now() };
  if (p.dir) fs.writeFileSync(path.join(p.dir, `${process.pid}.${seq}.${name}.${kind}`), JSON.stringify(body));
  if (kind === 'paused') {
    // Synchronous, and a JSON line like every other log line of the process.
    fs.writeSync(
      2,
      `${JSON.stringify({ level: 40, time: body.at, pid: process.pid, pause_point: name, occurrence, msg: `pausing at ${name} (SIGSTOP)` })}\n`,
    );
  }
}

/** With DOMAIN_PUSH_PAUSE_ONCE: this process has not frozen yet and is the first to claim the rule. */
function claim(p: Plan, rule: number): boolean {
  if (p.pausedBefore) return false;
  if (p.dir) {
    try {
      fs.closeSync(fs.openSync(path.join(p.dir, `claim.${rule}`), 'wx'));
    } catch {
      return false;
    }
  }
  p.pausedBefore = true;
  return true;
}

export function pausePoint(name: PausePoint): void {
  if (plan === null) return;
  const occurrence = (plan.seen.get(name) ?? 0) + 1;
  plan.seen.set(name, occurrence);
  let stop = false;
  for (const [i, r] of plan.rules.entries()) {
    if (r.point !== name) continue;
    const hit = r.nth !== undefined ? r.nth === occurrence : plan.random() < (r.p ?? 0);
    if (hit && (!plan.once || claim(plan, i))) {
      stop = true;
      break;
    }
  }
  if (stop) {
    mark(plan, name, occurrence, 'paused');
    // The whole process stops here (timers, lock renewals, open transactions with it) until SIGCONT.
    process.kill(process.pid, 'SIGSTOP');
  } else if (plan.trace) mark(plan, name, occurrence, 'passed');
}
