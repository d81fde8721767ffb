import { Command, CommanderError, Option } from 'commander';
import * as commands from './commands';
import { CliError, EXIT, EXIT_CODES_HELP, type ExitCode } from './exit-codes';
import { MAX_START_AFTER_SECONDS } from './schedule';
import { TYPED_CONFIRMATION_FROM } from './review';
import { keysCommand } from './keys';
import { auditCommand } from './audit';
import { webhooksCommand } from './webhooks';

const HELP_FOOTER = `
Environment:
  DOMAIN_PUSH_URL               the API's base URL (default http://127.0.0.1:3000)
  DOMAIN_PUSH_API_KEY           your reseller API key (required; never given as an argument)
  DOMAIN_PUSH_PROFILE_PASSWORD  the existing profile's password for --existing-profile
                                (otherwise asked for at the terminal)

${EXIT_CODES_HELP}

A push cannot be undone. On a terminal, push first shows what will happen (from a dry run) and
asks "Move? [y/N]"; from ${TYPED_CONFIRMATION_FROM.toLocaleString('en-US')} domains on you type the gaining reseller's username instead.
Scripts pass --yes; without a terminal and without --yes a push is refused (exit 2), nothing sent.
A push starts at once unless --start-after gives a grace window (cancel inside it and nothing
moves) or --start-at a time; the results email goes to your account email unless
--email-results-to or --no-email says otherwise.`;

/** The program; `run` parses argv with it and turns every outcome into an exit code. */
function buildProgram(io: commands.Io, done: (code: ExitCode) => void): Command {
  const program = new Command('domain-push')
    .description('Move domains to another reseller from scripts and terminals (a client of the /v1 API).')
    .option('--json', 'machine-readable output (JSON; watch prints one JSON line per update)')
    .option('--url <url>', 'API base URL (overrides DOMAIN_PUSH_URL)')
    .addHelpText('after', HELP_FOOTER)
    .showHelpAfterError('(run domain-push --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  const g = (cmd: Command) => cmd.optsWithGlobals() as commands.GlobalOptions;
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) =>
    async (...args: A) =>
      done(await fn(...args));

  program
    .command('push')
    .description('submit a bulk push ("Move to another reseller"); on a terminal, shows what will happen and asks first')
    .requiredOption('--to <username>', "the gaining reseller's username")
    .option('--file <path>', 'the domains: text (one per line or comma-separated) or CSV (first column); - reads stdin')
    .option('--all', 'every domain you hold at submit time')
    .addOption(new Option('--format <format>', 'how to read --file').choices(['auto', 'text', 'csv']).default('auto'))
    .option('--skip-invalid', 'push the valid names of --file; each invalid entry becomes a skipped item naming its line')
    .option('--apply-to-locked', 'unlock, push and relock locked domains (otherwise they are skipped)')
    .option('--existing-profile <domain,username>', "put the accounts into this profile of the gaining reseller's")
    .option('--email-results-to <email>', 'email the results (with a CSV) here when the job ends (default: your account email)')
    .option('--no-email', 'send no results email at all')
    .option(
      '--start-after <seconds>',
      `a grace window: wait this long (0-${MAX_START_AFTER_SECONDS}) before any domain moves; cancel inside it and nothing moves (default 0: at once)`,
    )
    .option(
      '--start-at <when>',
      "start at a date-time (ISO 8601; local time without a zone) or next_cycle: the gaining reseller's next billing cycle",
    )
    .option('-y, --yes', 'move without the review and the question (for scripts; required when not on a terminal)')
    .option('--dry-run', 'check everything and predict each outcome; change nothing')
    .option('--idempotency-key <key>', 'the same key and request return the same job instead of a second one')
    .option('--watch', 'then follow the job with a progress bar; exit code follows the outcome')
    .option('--wait', 'then wait quietly for the job to end (a scheduled one: to start, then end); exit code follows the outcome')
    .option('--through-suspension', 'with --wait/--watch: keep waiting while the job is suspended instead of stopping with exit 5')
    .action(act((o: commands.PushOptions, cmd: Command) => commands.push(io, g(cmd), o)));

  program
    .command('status <id>')
    .description("a job's status and outcome, counts, rate and ETA, start time when scheduled; exit code follows the state")
    .action(act((id: string, _o: unknown, cmd: Command) => commands.status(io, g(cmd), id)));

  program
    .command('watch <id>')
    .description('follow a job to its end (progress bar in a terminal, plain lines otherwise); stops at a suspension (exit 5)')
    .option('--through-suspension', 'keep following while the job is suspended, until it is resumed and ends')
    .action(act((id: string, o: commands.FollowFlags, cmd: Command) => commands.watch(io, g(cmd), id, o)));

  program
    .command('items <id>')
    .description("a job's per-domain results")
    // The API checks the status against the job's kind (its done status is its own: see `status`).
    .option('--status <status>', "only items in this status: pending, running, skipped, failed, cancelled or the job's done status")
    .option('--csv', 'CSV as the API streams it (domain,status,reason,message,was_locked,relocked,finished_at)')
    .action(act((id: string, o: { status?: string; csv?: boolean }, cmd: Command) => commands.items(io, g(cmd), id, o)));

  for (const [verb, what] of [
    ['cancel', 'cancel a scheduled, queued or running job (items already done stay done)'],
    ['suspend', 'suspend a job (scheduled ones too): no item starts until it is resumed'],
    ['resume', 'resume a suspended job'],
  ] as const) {
    program
      .command(`${verb} <id>`)
      .description(what)
      .action(act((id: string, _o: unknown, cmd: Command) => commands.control(io, g(cmd), id, verb)));
  }

  program
    .command('reschedule <id>')
    .description('a new start for a job that has not started yet (scheduled, or suspended before its start)')
    .option('--start-at <when>', 'a date-time (ISO 8601; local time without a zone), next_cycle, or now')
    .option('--start-after <seconds>', `start this many seconds from now (0-${MAX_START_AFTER_SECONDS})`)
    .action(act((id: string, o: { startAt?: string; startAfter?: string }, cmd: Command) => commands.reschedule(io, g(cmd), id, o)));

  program
    .command('jobs')
    .description('your bulk jobs, submitted and received, newest first')
    .option('--limit <n>', 'how many', '20')
    .option('--cursor <cursor>', 'the next page, as printed after a full page')
    .action(act((o: { limit: string; cursor?: string }, cmd: Command) => commands.jobs(io, g(cmd), o)));

  keysCommand(program, io, act);
  auditCommand(program, io, act);
  webhooksCommand(program, io, act);

  return program;
}

/** Runs the CLI and resolves with the exit code; prints errors as one message, never a stack. */
async function main(argv: string[], io: commands.Io): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are successes; any other usage error is a refusal before any request.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT.ok : EXIT.refused;
    }
    if (e instanceof CliError) {
      if (json && e.body !== undefined) io.stdout.write(`${JSON.stringify(e.body)}\n`);
      io.stderr.write(`domain-push: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr.write(`domain-push: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT.unreachable;
  }
}

/** The process entry: real streams, Ctrl-C stops a watch cleanly. */
export function run() {
  const ctl = new AbortController();
  process.once('SIGINT', () => {
    // A watch stops cleanly on the abort (restores the cursor, says how to watch again); any other
    // command is simply ended, as Ctrl-C would without this handler.
    ctl.abort(new Error('SIGINT'));
    setTimeout(() => process.exit(EXIT.interrupted), 500).unref();
  });
  // `domain-push items <id> | head`: the reader left, which is not an error of ours.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const io: commands.Io = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: ctl.signal };
  main(process.argv, io).then((code) => {
    process.exitCode = code;
  });
}
