/**
 * The CLI's exit codes, the contract scripts rely on:
 * 0 every item pushed (or the request succeeded), 1 some items failed, were skipped or cancelled,
 * 2 refused (a 4xx from the API, including 429, or a usage error caught before any request),
 * 3 the API could not be reached or failed on its side (network error, timeout, 5xx).
 */
export const EXIT = { ok: 0, partial: 1, refused: 2, unreachable: 3, interrupted: 130 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

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
