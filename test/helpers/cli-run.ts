import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** The real `domain-push` executable: its shebang, the tsx shim, the TS entry. */
export const ROOT = path.resolve(__dirname, '../..');
export const BIN = path.join(ROOT, 'bin/domain-push.js');

/**
 * What a CLI child keeps of the test process's environment besides what a test sets: c8's
 * NODE_V8_COVERAGE, so the CLI's own lines count in the coverage of cli/ (children that get a
 * fresh environment write no coverage).
 */
export const COVERAGE_ENV: Record<string, string> = process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {};

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliTarget {
  url: string;
  key: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
}

/** A CLI run in the background: its output so far, and its end. */
export interface Running {
  child: ChildProcessWithoutNullStreams;
  output(): Run;
  exited: Promise<Run>;
}

/**
 * Starts the CLI as a child process in a session of its own (detached), so it has no controlling
 * terminal whatever runs the tests: stdin, stdout and stderr are pipes, as in a script or cron.
 */
export function startCli(target: CliTarget, args: string[], opts: RunOptions = {}): Running {
  const child = spawn(BIN, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...COVERAGE_ENV,
      DOMAIN_PUSH_URL: target.url,
      DOMAIN_PUSH_API_KEY: target.key,
      ...opts.env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  child.stdin.end(opts.input ?? '');
  const output = () => ({ code: child.exitCode, stdout, stderr });
  const exited = new Promise<Run>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { child, output, exited };
}

export function runCli(target: CliTarget, args: string[], opts: RunOptions = {}): Promise<Run> {
  return startCli(target, args, opts).exited;
}

export const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

export const jobIdIn = (stdout: string) => /Job ([0-9a-f-]{36})/.exec(stdout)?.[1];

/** A port nothing listens on: bound once, then closed. */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A reverse proxy in front of the API that counts (or tampers with) requests: `tamper` returns
 * true when it answered the request itself.
 */
export async function startProxy(targetUrl: string, tamper: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) {
  const target = new URL(targetUrl);
  const server = http.createServer((req, res) => {
    if (tamper(req, res)) return;
    const up = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
  };
}
