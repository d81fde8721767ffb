import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import type { RedisClient } from '../shared/platform/redis';
import { TooManyRequests } from '../shared/platform/errors';
import type { Logger } from '../shared/platform/logger';
import { credentialId, type LiveCredential } from '../shared/accounts/sessions';

interface JobStreamView {
  status: string;
  total: number;
  counts: Record<string, number>;
}

interface StreamLimits {
  /** Concurrent streams one API key may hold, across every API process (counted in Redis). */
  maxPerKey: number;
  /** A stream ends after this long; the client reconnects (retry:) and resumes with Last-Event-ID. */
  maxSeconds: number;
  /** One poll of a job's state per interval, whatever the number of its streams. */
  pollMs: number;
  /** One check of every open stream's credential per interval (sign-out, revocation, expiry end it). */
  recheckMs: number;
}

/** Who opened a stream: the api_keys row id, and the session token's hash for console callers. */
type StreamCredential = LiveCredential;

/** Which of these credentials still hold, by credentialId (one query for all of them). */
type CredentialCheck = (creds: StreamCredential[]) => Promise<Set<string>>;

const RETRY_MS = 3000;
const HEARTBEAT_MS = 15_000;
const STREAM_RETRY_AFTER_SECONDS = 10;

// A sorted set per key: member = stream, score = when its slot lapses (a crashed process's slots
// lapse on their own). Atomic, so two API processes cannot both take the last slot.
const TAKE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/** The event id names the state a client has seen: the status and how many items have ended. */
function eventId(view: JobStreamView): string {
  const open = (view.counts.pending ?? 0) + (view.counts.running ?? 0);
  return `${view.status}.${view.total - open}`;
}

interface Subscriber {
  send(view: JobStreamView): void;
  close(): void;
}

/** An open stream as the credential check sees it. */
interface Holder {
  credential: StreamCredential;
  /** Sends the final `end` event (the job as last seen, still open), then closes the stream. */
  revoke(): void;
}

/**
 * Server-Sent Events for bulk jobs. All streams share one poll per interval: one read of every
 * watched job's view in two queries, whatever the number of streams and jobs (500 streams cost
 * what one does, and never hold more than one database connection); a stream sends `progress` when the state changes,
 * then one `end` event when the job has ended or is suspended, and closes. Streams are capped per
 * API key (every stream of the key counts, whatever console session opened it) and in lifetime.
 * Every open stream's credential is checked again each `recheckMs`, all of them in one query: a
 * stream whose session ended (sign-out, a newer session, expiry) or whose key was revoked gets a
 * final `end` event and closes. That `end` carries the job as last seen, still open (not finished,
 * not suspended): a client tells it from a job's end by that, and a reconnect answers 401.
 */
export class JobStreams {
  private watches = new Map<string, Set<Subscriber>>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private holders = new Set<Holder>();
  private recheckTimer: NodeJS.Timeout | undefined;
  private rechecking = false;
  private chores: NodeJS.Timeout[] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly limits: StreamLimits,
    private readonly log: Logger,
    /** The current views of these jobs, by id, without an access check (done once, when a stream opens). */
    private readonly load: (jobIds: string[]) => Promise<Map<string, JobStreamView>>,
    /** Which credentials still hold; without it, streams are not re-checked. */
    private readonly check?: CredentialCheck,
  ) {}

  async stream(
    req: Request,
    res: Response,
    jobId: string,
    credential: StreamCredential,
    first: () => Promise<JobStreamView>,
    isEnd: (status: string) => boolean,
  ): Promise<void> {
    const view = await first(); // throws (404) before any header is written
    const release = await this.takeSlot(credential.apiKeyId);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // `retry:` rides with the first event (or alone if a resumed client has seen the state already).
    let retry = `retry: ${RETRY_MS}\n`;
    let lastId = req.get('last-event-id') ?? '';
    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    let latest = view;
    let lastWrite = 0;
    const write = (v: JobStreamView, done: boolean) => {
      res.write(`${retry}id: ${eventId(v)}\nevent: ${done ? 'end' : 'progress'}\ndata: ${JSON.stringify(v)}\n\n`);
      retry = '';
      lastWrite = Date.now();
    };
    const sub: Subscriber = {
      send: (v) => {
        if (closed) return;
        latest = v;
        const id = eventId(v);
        const done = isEnd(v.status);
        if (id === lastId && !done) return;
        lastId = id;
        write(v, done);
        if (done) close();
      },
      close: () => close(),
    };
    const holder: Holder = {
      credential,
      revoke: () => {
        if (closed) return;
        write(latest, true);
        close();
      },
    };
    const close = () => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      this.unsubscribe(jobId, sub);
      this.forget(holder);
      release().catch(() => undefined);
      res.end();
    };
    req.on('close', close);
    // The lifetime cap: the client reconnects after `retry` and, with Last-Event-ID, gets only news.
    timers.push(setTimeout(close, this.limits.maxSeconds * 1000));
    // A quiet job (queued, suspended soon) still shows signs of life: its state again, same id, so a
    // client's idle timer and any proxy see traffic; a comment line would not reset a client's timer.
    const heartbeat = setInterval(() => {
      if (!closed && Date.now() - lastWrite >= HEARTBEAT_MS) write(latest, false);
    }, HEARTBEAT_MS);
    timers.push(heartbeat as unknown as NodeJS.Timeout);
    heartbeat.unref();
    sub.send(view);
    if (retry && !closed) {
      res.write(`${retry}\n`);
      retry = '';
    }
    if (!closed) {
      this.subscribe(jobId, sub);
      this.hold(holder);
    }
  }

  /** Runs `task` every `ms` on an unref'd timer, one run at a time, until close(). */
  every(ms: number, what: string, task: () => Promise<unknown>): void {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      task()
        .catch((err) => this.log.warn({ err: (err as Error).message }, `${what} failed`))
        .finally(() => (running = false));
    }, ms);
    t.unref();
    this.chores.push(t);
  }

  /** Ends every open stream (as at a lifetime cap: clients reconnect elsewhere) and stops every timer. */
  close(): void {
    for (const t of this.chores.splice(0)) clearInterval(t);
    for (const subs of [...this.watches.values()]) for (const s of [...subs]) s.close();
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = undefined;
  }

  /** Open streams (this process), for tests and diagnostics. */
  watching(): { jobs: number; streams: number } {
    let streams = 0;
    for (const subs of this.watches.values()) streams += subs.size;
    return { jobs: this.watches.size, streams };
  }

  private async takeSlot(apiKeyId: string): Promise<() => Promise<void>> {
    const key = `${this.keyPrefix}:sse:${apiKeyId}`;
    const member = crypto.randomUUID();
    const lapse = (this.limits.maxSeconds + 60) * 1000;
    let taken: unknown;
    try {
      taken = await this.redis.eval(TAKE_SLOT, 1, key, Date.now(), Date.now() + lapse, this.limits.maxPerKey, member, lapse);
    } catch (err) {
      // Redis away: serve the stream uncounted rather than refuse progress to everyone.
      this.log.warn({ err: (err as Error).message }, 'stream slots unavailable');
      return async () => undefined;
    }
    if (Number(taken) !== 1)
      throw new TooManyRequests(
        'too_many_streams',
        `At most ${this.limits.maxPerKey} event streams may be open per API key; close one or poll GET /v1/jobs/:id.`,
        STREAM_RETRY_AFTER_SECONDS,
        { max_streams: this.limits.maxPerKey },
      );
    return async () => {
      await this.redis.zrem(key, member);
    };
  }

  private subscribe(jobId: string, sub: Subscriber) {
    const subs = this.watches.get(jobId) ?? new Set<Subscriber>();
    this.watches.set(jobId, subs);
    subs.add(sub);
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), this.limits.pollMs);
      this.timer.unref();
    }
  }

  private unsubscribe(jobId: string, sub: Subscriber) {
    const subs = this.watches.get(jobId);
    if (!subs) return;
    subs.delete(sub);
    if (subs.size === 0) this.watches.delete(jobId);
    if (this.watches.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private hold(h: Holder) {
    this.holders.add(h);
    if (!this.check || this.recheckTimer) return;
    this.recheckTimer = setInterval(() => this.recheck(), this.limits.recheckMs);
    this.recheckTimer.unref();
  }

  private forget(h: Holder) {
    this.holders.delete(h);
    if (this.holders.size === 0 && this.recheckTimer) {
      clearInterval(this.recheckTimer);
      this.recheckTimer = undefined;
    }
  }

  /** One query for every open stream's credential; the streams of those that ended are ended. */
  private async recheck() {
    if (!this.check || this.rechecking || this.holders.size === 0) return;
    this.rechecking = true;
    try {
      const byId = new Map<string, StreamCredential>();
      for (const h of this.holders) byId.set(credentialId(h.credential), h.credential);
      const live = await this.check([...byId.values()]);
      let ended = 0;
      for (const h of [...this.holders]) {
        if (live.has(credentialId(h.credential))) continue;
        h.revoke();
        ended++;
      }
      if (ended) this.log.info({ event: 'streams_ended', streams: ended }, 'event streams ended: their credential ended');
    } catch (err) {
      // The database away: streams stay (their polls fail too); the next tick checks again.
      this.log.warn({ err: (err as Error).message }, 'stream credential check failed');
    } finally {
      this.rechecking = false;
    }
  }

  private async poll() {
    if (this.polling || this.watches.size === 0) return; // a slow database never stacks polls
    this.polling = true;
    try {
      const views = await this.load([...this.watches.keys()]);
      for (const [jobId, subs] of this.watches) {
        const view = views.get(jobId);
        if (view) for (const s of [...subs]) s.send(view);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'job stream poll failed');
    } finally {
      this.polling = false;
    }
  }
}
