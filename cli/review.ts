import fs from 'node:fs';
import readline from 'node:readline';
import tty from 'node:tty';
import { CliError, EXIT } from './exit-codes';
import { table } from './output';
import { describeStart, type Schedule } from './schedule';

/** From this many domains on, confirming means typing the gaining reseller's username. */
export const TYPED_CONFIRMATION_FROM = 1000;

/** The dry run's answer (`POST /v1/bulk-pushes` with `dry_run: true`). */
export interface DryRun {
  total: number;
  duplicates_removed: number;
  predicted: Record<string, number>;
  /** When the job would start (null: at once), as the API resolved the schedule. */
  start_at?: string | null;
  items: { domain: string; status: string; reason: string | null; was_locked: boolean }[];
}

interface ReviewContext {
  from: string;
  to: string;
  schedule: Schedule;
  /** The address given, null for --no-email, undefined when the API picks the account email. */
  emailResultsTo: string | null | undefined;
  accountEmail: string | undefined;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const domains = (n: number) => `${fmt(n)} domain${n === 1 ? '' : 's'}`;

/** How many items of a dry run would go which way; locked ones that move are counted apart. */
function reviewFigures(r: DryRun) {
  let move = 0;
  let lockedMove = 0;
  let skipped = 0;
  let failed = 0;
  for (const i of r.items) {
    if (i.status === 'pushed') {
      if (i.was_locked) lockedMove++;
      else move++;
    } else if (i.status === 'skipped') skipped++;
    else failed++;
  }
  return { move, lockedMove, skipped, failed };
}

/**
 * What will happen, in the words of the issue's review step: "Move 9,993 domains from losing-demo
 * to gaining-demo: 9,990 will move, 3 locked will be unlocked and relocked, 0 skipped; users and
 * mail go with them; this cannot be undone; starts in 30 s", then where results go, duplicates,
 * and the first domains that will not move.
 */
export function reviewText(r: DryRun, c: ReviewContext): string {
  const f = reviewFigures(r);
  const lines = [
    `Move ${domains(r.total)} from ${c.from} to ${c.to}: ${fmt(f.move)} will move, ${fmt(f.lockedMove)} locked will be unlocked and relocked, ` +
      `${fmt(f.skipped)} skipped${f.failed ? `, ${fmt(f.failed)} will fail` : ''}; users and mail go with them; this cannot be undone; ` +
      `${describeStart(c.schedule, c.to, r.start_at)}.`,
  ];
  if (c.emailResultsTo === null) lines.push('No results email (--no-email).');
  else if (c.emailResultsTo) lines.push(`Results will be emailed to ${c.emailResultsTo}.`);
  else lines.push(`Results will be emailed to your account email${c.accountEmail ? ` (${c.accountEmail})` : ''}.`);
  if (r.duplicates_removed) lines.push(`${fmt(r.duplicates_removed)} duplicate(s) removed.`);
  const notMoving = r.items.filter((i) => i.status !== 'pushed');
  if (notMoving.length) {
    const shown = notMoving.slice(0, 20);
    lines.push(
      'Will not move:',
      table(
        ['DOMAIN', 'STATUS', 'REASON'],
        shown.map((i) => [i.domain, i.status, i.reason ?? '']),
      ),
    );
    if (notMoving.length > shown.length) lines.push(`... and ${fmt(notMoving.length - shown.length)} more (all of them: --dry-run).`);
    if (!f.move && !f.lockedMove) lines.push('Nothing would move.');
  }
  return lines.join('\n');
}

/** The question asked, and whether an answer says yes. */
export function question(total: number, to: string): { prompt: string; accepts: (answer: string) => boolean } {
  if (total >= TYPED_CONFIRMATION_FROM) {
    return {
      prompt: `To move ${domains(total)}, type the gaining reseller's username (${to}): `,
      accepts: (a) => a.trim().toLowerCase() === to.trim().toLowerCase(),
    };
  }
  return { prompt: 'Move? [y/N] ', accepts: (a) => /^\s*y(es)?\s*$/i.test(a) };
}

/**
 * Whether a person can answer on the controlling terminal: stdin is that terminal, or stdin carries
 * the list (`--file -`) and stderr still shows a terminal. False in a script, a pipe without a
 * terminal, cron or CI: the push is then refused without --yes.
 */
export function canAsk(io: { stdin: NodeJS.ReadableStream; stderr: NodeJS.WriteStream }, listOnStdin: boolean): boolean {
  const stdinIsTty = (io.stdin as NodeJS.ReadStream).isTTY === true;
  if (!stdinIsTty && !(listOnStdin && io.stderr.isTTY)) return false;
  try {
    fs.closeSync(fs.openSync('/dev/tty', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** Asks one question on the terminal (echo on) and resolves with the line typed; Ctrl-C is exit 130, Ctrl-D an empty answer. */
export function ask(prompt: string): Promise<string> {
  // Two descriptors: each stream closes its own when destroyed.
  const input = new tty.ReadStream(fs.openSync('/dev/tty', 'r'));
  const output = new tty.WriteStream(fs.openSync('/dev/tty', 'w'));
  const rl = readline.createInterface({ input, output, terminal: true });
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (answer: string | CliError) => {
      if (settled) return;
      settled = true;
      rl.close();
      input.destroy();
      output.destroy();
      if (answer instanceof CliError) reject(answer);
      else resolve(answer);
    };
    rl.on('SIGINT', () => {
      output.write('\n');
      finish(new CliError(EXIT.interrupted, 'Interrupted; nothing was submitted.'));
    });
    rl.on('close', () => finish(''));
    rl.question(prompt, (answer) => finish(answer));
  });
}
