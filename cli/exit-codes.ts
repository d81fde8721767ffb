/**
 * The CLI's exit codes, the contract scripts rely on. `push --wait`/`--watch`, `watch` and `status`
 * exit with the code of the job's state when they stop; every other command exits 0 once the API
 * said yes.
 *
 * | code | when                                                                                   |
 * |------|----------------------------------------------------------------------------------------|
 * | 0    | every item pushed (outcome `all_pushed`/`all_released`), or the request succeeded;     |
 * |      | `status` of a job still scheduled, queued, running or cancelling                       |
 * | 1    | the job ended without pushing every item: `partly_failed`, `partly_skipped`,           |
 * |      | `all_failed`, `all_skipped`, `none_pushed`; also a job that failed as a whole (status   |
 * |      | `failed`: its unfinished items failed with reason `error`, see `items --status failed`); |
 * |      | also a dry run that predicts anything but "every domain moves"                         |
 * | 2    | refused: the API said no (4xx, including 429), a usage error, or no confirmation       |
 * |      | (no terminal to ask on and no --yes, or the question answered no); nothing submitted   |
 * | 3    | unreachable: network error, timeout, or the service failed (5xx)                       |
 * | 4    | the job was cancelled (whatever it pushed before the cancel stays pushed)              |
 * | 5    | the job is suspended: nothing more moves until someone resumes it (`--wait`, `--watch`  |
 * |      | and `watch` stop there unless --through-suspension is given)                           |
 * | 130  | interrupted (Ctrl-C); a job being watched goes on                                      |
 *
 * A job-level `failed` shares 1 with items that failed: in both cases the job ended and some
 * domains did not move, and `items --status failed` says which and why. Cancelled and suspended
 * have codes of their own because a person acted on the job: a script must not read them as an
 * ordinary partial result (a cancelled job) or as an end at all (a suspended one can go on).
 */
export const EXIT = { ok: 0, partial: 1, refused: 2, unreachable: 3, cancelled: 4, suspended: 5, interrupted: 130 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table above as `--help` prints it. */
export const EXIT_CODES_HELP = `Exit codes (push --wait/--watch, watch and status follow the job's state):
  0    every item pushed, or the request succeeded (status: the job is still scheduled, queued or running)
  1    the job ended with items failed or skipped (partly_failed, partly_skipped, all_failed,
       all_skipped, none_pushed), or failed as a whole; or a dry run predicts so
  2    refused: the API said no (4xx, including 429), a usage error, or no confirmation
       (no terminal and no --yes, or the question answered no); nothing was submitted
  3    unreachable: network error, timeout, or the service failed (5xx)
  4    the job was cancelled (items pushed before the cancel stay pushed)
  5    the job is suspended; --wait/--watch/watch stop there unless --through-suspension
  130  interrupted (Ctrl-C); a job being watched goes on`;

/** An error the CLI reports in one message and turns into an exit code; never a stack trace. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** The API's error body, printed as is under --json. */
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const refused = (message: string, body?: unknown) => new CliError(EXIT.refused, message, body);
