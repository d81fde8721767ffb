import { AsyncLocalStorage } from 'node:async_hooks';
import { isIPv4, isIPv6 } from 'node:net';
import type { RedisClient } from './redis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from './config';
import { TooManyRequests } from './errors';
import type { Logger } from './logger';

/**
 * Every kind of credential a caller can guess. Kinds that guess the same secret share one counter
 * per address (COUNTER): an API key guessed through /v1/* (bearer), through the console's sign-in
 * and the operator key through /admin/* all count on `api_key`, so no route adds tries of its own.
 * The others have their own, so a flood of bad claim links does not lock out API keys.
 */
export type CredentialKind = 'api_key' | 'operator_key' | 'sign_in' | 'session' | 'metrics_token' | 'claim_token' | 'profile_password';

const COUNTER: Record<CredentialKind, string> = {
  api_key: 'api_key',
  operator_key: 'api_key',
  sign_in: 'api_key',
  session: 'session',
  metrics_token: 'metrics_token',
  claim_token: 'claim_token',
  profile_password: 'profile_password',
};

interface Limit {
  /** Failures allowed within `windowSeconds`; the next attempt is refused and starts the block. */
  failures: number;
  windowSeconds: number;
  blockSeconds: number;
}

/** Who is asking, for the log line: set once per request by the HTTP layer. */
interface RequestInfo {
  ip?: string;
  /** Method and route pattern (never the raw path: a claim token is part of it). */
  route?: () => string;
}
export const requestInfo = new AsyncLocalStorage<RequestInfo>();

export interface AuthThrottle {
  /**
   * Throws 429 `too_many_attempts` (with Retry-After) once `key` has used up its failures for this
   * kind; the first such refusal starts the block (AUTH_BLOCK_SECONDS). Called before a credential
   * is checked, and again after a right one (a concurrent burst may have used up the tries while
   * it was being checked: a right key then gets the same 429 as a wrong one).
   */
  assertAllowed(kind: CredentialKind, key: string, opts?: { missing?: boolean }): Promise<void>;
  /**
   * Counts one failed attempt against `key` first, then decides: past the limit it throws 429 (and
   * the block starts), else it returns and the caller answers its 401. Either way the attempt is
   * logged as JSON (ip, route, kind, the presented secret's prefix when there is one: never the
   * secret). A missing credential is a failed attempt too (`missing: true`), counted on a counter
   * of its own: it guesses nothing, so anonymous requests (a console not signed in yet, a browser's
   * first request before basic auth) never use up the tries of the people behind the same address.
   */
  failed(kind: CredentialKind, key: string, context?: { keyPrefix?: string; [k: string]: unknown }): Promise<void>;
}

/**
 * The address a counter is kept for: IPv4 as is (also when it comes IPv4-mapped, `::ffff:1.2.3.4`),
 * IPv6 by its /64 (one customer's allocation: the 2^64 addresses of a /64 are one caller). Pure.
 */
export function throttleAddress(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const bare = ip.split('%')[0]; // a zone id (fe80::1%eth0) names an interface, not another host
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return ip;
  const groups = expandIPv6(bare.toLowerCase());
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** `2001:db8::1` → its eight 16-bit groups (an embedded dotted IPv4 tail is two groups). */
function expandIPv6(ip: string): number[] {
  let text = ip;
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((h) => Number.parseInt(h, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  const zeros = tail === undefined ? [] : new Array(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

/**
 * Failed authentication is counted in Redis, so every API process shares the same counters; if
 * Redis is unreachable an in-memory limiter takes over (per process) instead of failing open.
 * Count then decide: a failure is counted before its answer is chosen (Redis INCR is atomic), so
 * N wrong keys sent at once get exactly `failures` 401s and 429s after that, and the attempt past
 * the limit starts the block, which then lasts AUTH_BLOCK_SECONDS whatever the window.
 */
export function createAuthThrottle(redis: RedisClient, config: Config, log: Logger): AuthThrottle {
  const perIp: Limit = {
    failures: config.AUTH_MAX_FAILURES,
    windowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS,
    blockSeconds: config.AUTH_BLOCK_SECONDS,
  };
  // A password is low-entropy and the pair (losing, gaining) is a narrow key: fewer tries, longer window.
  const limits: Record<string, Limit> = {
    api_key: perIp,
    session: perIp,
    missing: perIp,
    metrics_token: perIp,
    claim_token: perIp,
    profile_password: { failures: Math.min(10, config.AUTH_MAX_FAILURES), windowSeconds: 900, blockSeconds: 900 },
  };
  const limiters = new Map<string, RateLimiterAbstract>();
  const limiter = (counter: string) => {
    let l = limiters.get(counter);
    if (!l) {
      const { failures, windowSeconds, blockSeconds } = limits[counter];
      const opts = { points: failures, duration: windowSeconds, blockDuration: blockSeconds };
      l = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${config.QUEUE_PREFIX}:authfail:${counter}`,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ ...opts, keyPrefix: `authfail:${counter}` }),
        ...opts,
      });
      limiters.set(counter, l);
    }
    return l;
  };
  const counterOf = (kind: CredentialKind, missing: boolean) => (missing && kind !== 'profile_password' ? 'missing' : COUNTER[kind]);
  // Addresses are counted by throttleAddress; a profile password's key is a (losing, gaining) pair.
  const keyOf = (kind: CredentialKind, key: string) => (kind === 'profile_password' ? key : throttleAddress(key));
  const refuse = (kind: CredentialKind, msBeforeNext: number) => {
    const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
    return new TooManyRequests(
      'too_many_attempts',
      `Too many failed ${kind.replace('_', ' ')} attempts; try again in ${seconds} s.`,
      seconds,
    );
  };
  const logLine = (kind: CredentialKind, key: string, fields: Record<string, unknown>, msg: string) => {
    const info = requestInfo.getStore();
    log.warn(
      { kind, ip: info?.ip ?? key, route: info?.route?.(), ...fields, limit: limits[counterOf(kind, !!fields.missing)].failures },
      msg,
    );
  };
  return {
    async assertAllowed(kind, key, opts = {}) {
      const counter = counterOf(kind, !!opts.missing);
      const k = keyOf(kind, key);
      let res: RateLimiterRes | null = null;
      try {
        res = await limiter(counter).get(k);
      } catch (err) {
        log.warn({ err: (err as Error).message, kind }, 'auth throttle unavailable');
      }
      const { failures } = limits[counter];
      if (!res || res.consumedPoints < failures) return;
      if (res.consumedPoints > failures) throw refuse(kind, res.msBeforeNext);
      // Exactly at the limit and not blocked yet: this attempt is the one past it, so it is counted
      // too, which starts the block (a concurrent one may have started it already: same answer).
      try {
        res = await limiter(counter).consume(k);
      } catch (rejected) {
        if (!(rejected instanceof RateLimiterRes)) throw refuse(kind, limits[counter].blockSeconds * 1000);
        res = rejected;
      }
      logLine(
        kind,
        key,
        { event: 'auth_blocked', failures: res.consumedPoints, block_seconds: limits[counter].blockSeconds },
        'authentication blocked',
      );
      throw refuse(kind, res.msBeforeNext);
    },
    async failed(kind, key, context = {}) {
      const counter = counterOf(kind, !!context.missing);
      let res: RateLimiterRes | undefined;
      let over = false;
      try {
        res = await limiter(counter).consume(keyOf(kind, key));
      } catch (rejected) {
        if (rejected instanceof RateLimiterRes) {
          res = rejected;
          over = true;
        } else log.warn({ err: (rejected as Error).message, kind }, 'auth throttle unavailable');
      }
      const { keyPrefix, ...rest } = context;
      logLine(
        kind,
        key,
        { event: 'auth_failure', key_prefix: keyPrefix, failures: res?.consumedPoints, ...(over ? { blocked: true } : {}), ...rest },
        'authentication failed',
      );
      if (over) throw refuse(kind, res!.msBeforeNext);
    },
  };
}

/** What may be logged of a presented secret: its first 8 characters (the stored key_prefix length). */
export function secretPrefix(secret: string | undefined): string | undefined {
  if (!secret) return undefined;
  return secret.length >= 16 ? secret.slice(0, 8) : '(short)';
}
