import fs from 'node:fs';
import path from 'node:path';
import { GAINING, LOSING, type DemoKeys } from './demo-data';

/**
 * What `npm start` prints and `npm run urls` prints again: where everything is, the operator key,
 * the demo keys. The running process writes DATA_DIR/running.json (its address, pid and log
 * file, never a key) so the second command knows where it is.
 */
const RUNNING_FILE = 'running.json';

interface Running {
  pid: number;
  url: string;
  log_file: string | null;
  started_at: string;
}

export function writeRunning(dataDir: string, running: Running) {
  fs.writeFileSync(path.resolve(dataDir, RUNNING_FILE), `${JSON.stringify(running, null, 2)}\n`);
}

/** Removed at exit, only if it is still this process's (a later start may have replaced it). */
export function removeRunning(dataDir: string, pid = process.pid) {
  const file = path.resolve(dataDir, RUNNING_FILE);
  if (readRunning(dataDir, { evenIfGone: true })?.pid === pid) fs.rmSync(file, { force: true });
}

/** The process started from this DATA_DIR, if it is still alive. */
export function readRunning(dataDir: string, opts: { evenIfGone?: boolean } = {}): Running | undefined {
  try {
    const running = JSON.parse(fs.readFileSync(path.resolve(dataDir, RUNNING_FILE), 'utf8')) as Running;
    if (opts.evenIfGone || alive(running.pid)) return running;
  } catch {
    // no file, or not ours
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A path as the person typed it: relative to where they are when it is below it. */
export function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export function urlLines(base: string): string[] {
  return [
    `  API:            ${base}/v1   (health ${base}/healthz, metrics ${base}/metrics)`,
    `  Console:        ${base}/console   (sign in with a reseller API key)`,
    `  API docs:       ${base}/docs   (OpenAPI 3.1 at ${base}/v1/openapi.json)`,
    `  Dashboard:      ${base}/admin/queues   (basic auth: any user, the operator key as password)`,
    `  Mailbox:        ${base}/admin/emails   (basic auth like the dashboard)`,
  ];
}

export function demoKeyLines(keys: DemoKeys, keysFile: string): string[] {
  return [
    `  ${LOSING} key:  ${keys.losingKey}`,
    `  ${GAINING} key: ${keys.gainingKey}`,
    `  (kept in ${shown(keysFile)}, readable by you only)`,
  ];
}

export function pushAllLines(base: string, losingKey: string): string[] {
  return [
    '  Push them all:',
    `  curl -s -X POST ${base}/v1/bulk-pushes -H 'Authorization: Bearer ${losingKey}' -H 'Content-Type: application/json' \\`,
    `    -d '{"gaining_reseller":"${GAINING}","all_domains":true,"profile":{"mode":"new"},"apply_to_locked":true,"email_results_to":"ops@losing.example"}'`,
  ];
}
