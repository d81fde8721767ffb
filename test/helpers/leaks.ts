import childProcess from 'node:child_process';
import net from 'node:net';
import timers from 'node:timers';
import { promisify } from 'node:util';

/**
 * Finds what keeps a finished test run alive. Mocha runs without `exit: true`, so the process ends
 * only once every socket, server, child process and timer is closed. `test/setup.ts` installs this
 * tracker before any test file loads and, when the run is over, arms `failOnOpenHandles`: if the
 * process is still alive `LEAK_GRACE_MS` later, it prints each handle that holds it (with where it
 * was made) and exits 1, so a leak fails CI with its name instead of hanging it.
 *
 * No async_hooks: an init hook turns on V8's promise hooks for every promise, which slows the
 * promise-heavy integration tests. Only the constructors of what can hold the event loop open are
 * wrapped: timers (a set of live ones), and the places a socket, server or child gets its handle.
 */

const born = new WeakMap<object, Error>();
const liveTimers = new Set<NodeJS.Timeout>();
let installed = false;

interface TimerInternals {
  _destroyed?: boolean;
}

/**
 * Where `what` was made: the stack at its construction without this file's and Node's frames. A
 * library's frames are cut to the first three, so the test's or product's lines under them show
 * (LEAK_FULL_STACKS=1 shows every frame).
 */
function stackOf(what: object): string {
  const err = born.get(what);
  if (!err?.stack) return '    (where it was made is unknown: made before the tracker started)';
  let libraryFrames = 0;
  const full = process.env.LEAK_FULL_STACKS === '1';
  return err.stack
    .split('\n')
    .slice(1)
    .filter((l) => !/test\/helpers\/leaks\.ts|node:internal|\(node:|node_modules\/mocha\/|^\s*at new Promise \(<anonymous>\)$/.test(l))
    .filter((l) => full || !l.includes('/node_modules/') || ++libraryFrames <= 3)
    .slice(0, full ? 40 : 12)
    .map((l) => `    ${l.trim()}`)
    .join('\n');
}

function capture(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const err = new Error('made here');
  Error.stackTraceLimit = limit;
  return err;
}

function trackTimer(t: NodeJS.Timeout): NodeJS.Timeout {
  born.set(t, capture());
  liveTimers.add(t);
  // Fired and cleared timers are dropped from time to time, so the set stays small.
  if (liveTimers.size > 2_000) for (const x of liveTimers) if ((x as TimerInternals)._destroyed) liveTimers.delete(x);
  return t;
}

/** Wraps the constructors once per process; cheap (a stack per timer, socket, server and child). */
export function installLeakTracker(): void {
  if (installed) return;
  installed = true;
  for (const name of ['setTimeout', 'setInterval'] as const) {
    const original = globalThis[name] as (...args: unknown[]) => NodeJS.Timeout;
    const wrapped = Object.assign(
      function (this: unknown, ...args: unknown[]) {
        return trackTimer(original.apply(this, args));
      },
      { [promisify.custom]: (original as unknown as Record<symbol, unknown>)[promisify.custom] },
    );
    globalThis[name] = wrapped as never;
    (timers as Record<string, unknown>)[name] = wrapped;
  }
  for (const name of ['clearTimeout', 'clearInterval'] as const) {
    const original = globalThis[name] as (t?: unknown) => void;
    const wrapped = function (this: unknown, t?: unknown) {
      if (t && typeof t === 'object') liveTimers.delete(t as NodeJS.Timeout);
      return original.call(this, t);
    };
    globalThis[name] = wrapped as never;
    (timers as Record<string, unknown>)[name] = wrapped;
  }
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    if (!born.has(this)) born.set(this, capture());
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    born.set(this, capture());
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
  // ChildProcess#spawn is how every spawn/exec/fork starts its child (not in Node's typings).
  const proto = childProcess.ChildProcess.prototype as unknown as { spawn: (...a: unknown[]) => unknown };
  const spawn = proto.spawn;
  proto.spawn = function (this: childProcess.ChildProcess, ...args: unknown[]) {
    born.set(this, capture());
    return spawn.apply(this, args);
  };
}

function isStdio(h: unknown): boolean {
  return h === process.stdin || h === process.stdout || h === process.stderr;
}

/** A line naming a handle the way a person finds it: what it is and what it talks to. */
function describe(h: object): string {
  if (h instanceof net.Server) {
    const a = h.address();
    return `${h.constructor.name} listening on ${typeof a === 'string' ? a : a ? `${a.address}:${a.port}` : '(no address)'}`;
  }
  if (h instanceof net.Socket) {
    const to = h.remoteAddress
      ? `${h.remoteAddress}:${h.remotePort}`
      : (h as unknown as { _pendingData?: unknown; path?: string }).path || '(not connected)';
    return `${h.constructor.name} to ${to}${h.destroyed ? ' (destroyed)' : ''}`;
  }
  if (h instanceof childProcess.ChildProcess) return `ChildProcess pid ${h.pid} (${h.spawnargs.join(' ').slice(0, 120)})`;
  return h.constructor?.name ?? typeof h;
}

/**
 * What still holds the event loop open: Node's own names (process.getActiveResourcesInfo()) and,
 * for each timer, socket, server and child process that is still referenced, a line with where it
 * was made. Unreferenced ones do not keep the process alive and are not listed.
 */
export function openHandles(): { names: string[]; details: string[] } {
  const names = process.getActiveResourcesInfo();
  const details: string[] = [];
  const getHandles = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles;
  for (const h of getHandles?.call(process) ?? []) {
    if (isStdio(h)) continue;
    if (h instanceof childProcess.ChildProcess || h instanceof net.Server || h instanceof net.Socket || born.has(h))
      details.push(`${describe(h)}\n${stackOf(h)}`);
    else details.push(`${describe(h)}\n    (not tracked)`);
  }
  for (const t of liveTimers) {
    if ((t as TimerInternals)._destroyed || !t.hasRef()) continue;
    const ms = (t as unknown as { _idleTimeout?: number; _repeat?: number | null })._idleTimeout;
    const kind = (t as unknown as { _repeat?: number | null })._repeat ? 'setInterval' : 'setTimeout';
    details.push(`Timeout (${kind}, ${ms} ms)\n${stackOf(t)}`);
  }
  return { names: names.filter((n) => n !== 'TTYWrap'), details };
}

/**
 * Arms the check once the run is over: an unreferenced timer fires only if something else still
 * holds the process after `graceMs`. Then it names what does and exits 1.
 */
export function failOnOpenHandles(graceMs: number): void {
  const check = setTimeout(() => {
    const { names, details } = openHandles();
    const text = [
      '',
      `Leaked handles: the tests are done but ${graceMs} ms later the process is still held open by`,
      `  ${names.join(', ') || '(nothing Node can name)'}`,
      ...details.map((d) => `- ${d}`),
      'Close each of them in the test (or helper) that opened it; see docs/testing.md "Leaks".',
      '',
    ].join('\n');
    process.stderr.write(text);
    // Mocha sets the exit code to the number of failures in an 'exit' listener; this one runs last.
    process.on('exit', () => {
      process.exitCode = 1;
    });
    process.exit(1);
  }, graceMs);
  check.unref();
}
