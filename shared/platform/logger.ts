import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';

export type Logger = pino.Logger;

/** JSON lines on stdout, or on `destination` (the all-in-one `npm start` writes them to a file). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'domain-push', ...bindings },
      redact: {
        paths: [
          'password',
          '*.password',
          '*.*.password',
          'profile.password',
          'api_key',
          '*.api_key',
          'token',
          '*.token',
          'req.headers.authorization',
          'headers.authorization',
          'authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** Where `npm start` keeps its JSON lines, under DATA_DIR. */
export const LOG_FILE = path.join('logs', 'domain-push.log');
/** The log file is rotated past this size; one previous file (domain-push.log.1) is kept. */
const LOG_FILE_CAP_BYTES = 10 * 1024 * 1024;

interface AllInOneLogs {
  log: Logger;
  /** The log file (absolute), or undefined when LOG_LEVEL=silent. */
  file?: string;
  /** Which lines reach the terminal, in words (for the banner). */
  terminal: string;
}

/**
 * The logger of the all-in-one `npm start`, which a person watches: every line at LOG_LEVEL goes
 * to DATA_DIR/logs/domain-push.log as JSON, and the terminal shows warnings and errors only, one
 * short line each. With LOG_LEVEL=debug (or trace) the terminal shows every line too. The
 * production processes (bin/api.ts, bin/worker.ts) keep JSON on stdout.
 */
export function allInOneLogger(
  level: string,
  dataDir: string,
  bindings: Record<string, unknown> = {},
  opts: { terminal?: { write(text: string): unknown }; capBytes?: number } = {},
): AllInOneLogs {
  if (level === 'silent') return { log: createLogger('silent', bindings), terminal: 'nothing (LOG_LEVEL=silent)' };
  const file = path.resolve(dataDir, LOG_FILE);
  const terminal = opts.terminal ?? process.stderr;
  const verbose = pino.levels.values[level] <= pino.levels.values.debug;
  const terminalLevel = verbose || pino.levels.values[level] > pino.levels.values.warn ? level : 'warn';
  const streams = pino.multistream([
    { level: level as pino.Level, stream: new CappedFile(file, opts.capBytes ?? LOG_FILE_CAP_BYTES) },
    { level: terminalLevel as pino.Level, stream: { write: (line: string) => terminal.write(terminalLine(line)) } },
  ]);
  return {
    log: createLogger(level, bindings, streams),
    file,
    terminal: verbose
      ? `every line: LOG_LEVEL=${level}`
      : `${{ error: 'errors', fatal: 'fatal errors' }[level] ?? 'warnings and errors'}; LOG_LEVEL=debug shows every line`,
  };
}

/** A JSON log line as a person reads it: time, level, message, then the fields that tell more. */
export function terminalLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json);
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const {
    level,
    time,
    msg,
    pid: _pid,
    hostname: _host,
    service: _service,
    role: _role,
    req: _req,
    res,
    responseTime,
    err,
    ...rest
  } = entry;
  const label = pino.levels.labels[Number(level)] ?? String(level);
  const at = new Date(Number(time) || Date.now()).toTimeString().slice(0, 8);
  const parts = [`${at} ${label.padEnd(5)} ${String(msg ?? '')}`];
  if (res !== undefined && typeof responseTime === 'number') parts.push(`(${responseTime} ms)`);
  if (err !== undefined)
    parts.push(`— ${typeof err === 'object' && err && 'message' in err ? String((err as Error).message) : String(err)}`);
  if (Object.keys(rest).length) parts.push(JSON.stringify(rest));
  return `${parts.join(' ')}\n`;
}

/**
 * An append-only log file that never grows past `cap` bytes: past it, the file becomes
 * `<file>.1` (replacing the previous one) and a new file starts. Writes are synchronous, so
 * the last lines before an exit are in the file.
 */
class CappedFile {
  private size: number;
  private readonly dest: ReturnType<typeof pino.destination>;

  constructor(
    private readonly file: string,
    private readonly cap: number,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.size = fs.existsSync(file) ? fs.statSync(file).size : 0;
    if (this.size >= cap) this.rotateFile();
    this.dest = pino.destination({ dest: file, sync: true, append: true });
  }

  write(line: string) {
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.cap) {
      this.rotateFile();
      this.dest.reopen();
    }
    this.dest.write(line);
    this.size += bytes;
  }

  private rotateFile() {
    fs.renameSync(this.file, `${this.file}.1`);
    this.size = 0;
  }
}
