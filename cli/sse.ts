import { CliError, EXIT } from './exit-codes';
import type { ApiClient } from './http';

interface SseEvent {
  event: string;
  data: string;
  id?: string;
  /** The server's `retry:` advice in ms, when this block carried one. */
  retry?: number;
}

/** Parses a text/event-stream body (the WHATWG HTML server-sent events format) into events; comments and unknown fields are ignored. */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let retry: number | undefined;
  const dispatch = (): SseEvent | undefined => {
    const out = data.length || retry !== undefined ? { event: event || 'message', data: data.join('\n'), id, retry } : undefined;
    event = '';
    data = [];
    retry = undefined;
    return out;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (;;) {
      // A line ends at CRLF, LF or CR; a CR at the very end may be half of a CRLF still in flight.
      const m = /\r\n|\n|\r(?!$)/.exec(buffer);
      if (!m) break;
      const line = buffer.slice(0, m.index);
      buffer = buffer.slice(m.index + m[0].length);
      if (line === '') {
        const ev = dispatch();
        if (ev) yield ev;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
    }
  }
}

interface FollowOptions {
  /** Called with every job state the stream brings. */
  onState: (job: JobState) => void;
  /** Called when the stream ended early and the CLI reconnects (for a note in plain mode). */
  onReconnect?: (why: string, delayMs: number) => void;
  /** No byte for this long: the connection is presumed dead and reopened. */
  idleMs?: number;
  /** How long to keep trying while the service is unreachable before giving up (exit 3). */
  giveUpMs?: number;
  signal?: AbortSignal;
  /**
   * Keep following a suspended job until it is resumed and ends. Without it a suspended job is
   * where following stops: nothing moves until a person resumes it.
   */
  throughSuspension?: boolean;
}

export interface JobState {
  id: string;
  status: string;
  total: number;
  counts: Record<string, number>;
  rate: number | null;
  eta_seconds: number | null;
  [k: string]: unknown;
}

const FINISHED = new Set(['completed', 'cancelled', 'failed']);
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Follows a job's event stream to its final state. The server may end a stream before the job
 * ends (streams have a capped lifetime); the CLI then reconnects after the server's `retry:`
 * advice, sending `Last-Event-ID` so the server can resume. A network failure is retried until
 * `giveUpMs` passes without a working connection; a 429 waits out `Retry-After` (within the same
 * bound); any other refusal (404, 401) ends the watch.
 */
export async function followJob(client: ApiClient, path: string, opts: FollowOptions): Promise<JobState> {
  const idleMs = opts.idleMs ?? 45_000;
  const giveUpMs = opts.giveUpMs ?? 60_000;
  let retryMs = 1_000;
  let lastId: string | undefined;
  let lastGood = Date.now();
  for (;;) {
    if (opts.signal?.aborted) throw new CliError(EXIT.interrupted, 'Interrupted.');
    const ctl = new AbortController();
    let idle = setTimeout(() => ctl.abort(new Error('no event for too long')), idleMs);
    const onAbort = () => ctl.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let why = 'the stream ended';
    let suspended = false;
    try {
      const res = await client.send('GET', path, {
        accept: 'text/event-stream',
        headers: lastId === undefined ? {} : { 'last-event-id': lastId },
        timeoutMs: 0,
        signal: ctl.signal,
      });
      lastGood = Date.now();
      for await (const ev of parseSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
        clearTimeout(idle);
        idle = setTimeout(() => ctl.abort(new Error('no event for too long')), idleMs);
        lastGood = Date.now();
        if (ev.retry !== undefined) retryMs = ev.retry;
        if (ev.id !== undefined) lastId = ev.id;
        if (!ev.data) continue;
        let job: JobState;
        try {
          job = JSON.parse(ev.data);
        } catch {
          continue; // not a job state (a future event kind); nothing to show
        }
        if (typeof job?.status !== 'string' || typeof job.counts !== 'object') continue;
        opts.onState(job);
        if (FINISHED.has(job.status)) return job;
        suspended = job.status === 'suspended';
        if (suspended) {
          // The server ends a suspended job's stream; asked to, we reconnect until it goes on.
          if (!opts.throughSuspension) return job;
          continue;
        }
        if (ev.event === 'end') return job;
      }
    } catch (err) {
      if (opts.signal?.aborted) throw new CliError(EXIT.interrupted, 'Interrupted.');
      const cli = err instanceof CliError ? err : undefined;
      if (cli && cli.exitCode === EXIT.refused) {
        const after = retryAfterOf(cli.body);
        // Told to wait: wait, but not forever.
        if (after === undefined || Date.now() - lastGood > giveUpMs) throw cli;
        why = 'too many requests';
        retryMs = Math.max(retryMs, after * 1000);
      } else {
        if (Date.now() - lastGood > giveUpMs) {
          throw cli ?? new CliError(EXIT.unreachable, `Lost the event stream: ${(err as Error).message}`);
        }
        why = cli ? cli.message : `the stream broke (${(err as Error).message})`;
      }
    } finally {
      clearTimeout(idle);
      opts.signal?.removeEventListener('abort', onAbort);
      ctl.abort();
    }
    // Waiting through a suspension reconnects every few seconds by design: no note each time.
    if (!suspended) opts.onReconnect?.(why, retryMs);
    await sleep(retryMs, opts.signal);
  }
}

function retryAfterOf(body: unknown): number | undefined {
  const err = (body as { error?: { code?: string; retry_after?: unknown } } | undefined)?.error;
  if (err === undefined || !('retry_after' in err)) return undefined;
  const n = Number(err.retry_after);
  return Number.isFinite(n) && n >= 0 ? n : 1;
}
