import { AsyncLocalStorage } from 'node:async_hooks';
import type { RedisClient } from './redis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from './config';
import { TooManyRequests } from './errors';
import type { Logger } from './logger';

/**
 * Every kind of credential a caller can guess. Each has its own counters, so a flood of bad API
 * keys does not lock out claim links, and the other way round.
 */
export type CredentialKind = 'api_key' | 'operator_key' | 'claim_token' | 'profile_password' | 'sign_in';

interface Limit {
  /** Failures allowed within `windowSeconds` before the key is blocked. */
  failures: number;
  windowSeconds: number;
  blockSeconds: number;
}

/** Who is asking, for the log line: set once per request by the HTTP layer. */
export interface RequestInfo {
  ip?: string;
  /** Method and route pattern (never the raw path: a claim token is part of it). */
  route?: () => string;
}
export const requestInfo = new AsyncLocalStorage<RequestInfo>();

export interface AuthThrottle {
  /** Throws 429 `too_many_attempts` (with Retry-After) while `key` is blocked for this kind. */
  assertAllowed(kind: CredentialKind, key: string): Promise<void>;
  /**
   * Counts one failed attempt against `key` and logs it as JSON (ip, route, kind, the presented
   * secret's prefix when there is one: never the secret).
   */
  failed(kind: CredentialKind, key: string, context?: { keyPrefix?: string; [k: string]: unknown }): Promise<void>;
}

/**
 * Failed authentication is counted in Redis, so every API process shares the same counters; if
 * Redis is unreachable an in-memory limiter takes over (per process) instead of failing open.
 */
export function createAuthThrottle(redis: RedisClient, config: Config, log: Logger): AuthThrottle {
  const perIp: Limit = {
    failures: config.AUTH_MAX_FAILURES,
    windowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS,
    blockSeconds: config.AUTH_BLOCK_SECONDS,
  };
  // A password is low-entropy and the pair (losing, gaining) is a narrow key: fewer tries, longer window.
  const limits: Record<CredentialKind, Limit> = {
    api_key: perIp,
    operator_key: perIp,
    claim_token: perIp,
    sign_in: perIp,
    profile_password: { failures: Math.min(10, config.AUTH_MAX_FAILURES), windowSeconds: 900, blockSeconds: 900 },
  };
  const limiters = new Map<CredentialKind, RateLimiterAbstract>();
  const limiter = (kind: CredentialKind) => {
    let l = limiters.get(kind);
    if (!l) {
      const { failures, windowSeconds, blockSeconds } = limits[kind];
      const opts = { points: failures, duration: windowSeconds, blockDuration: blockSeconds };
      l = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${config.QUEUE_PREFIX}:authfail:${kind}`,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ ...opts, keyPrefix: `authfail:${kind}` }),
        ...opts,
      });
      limiters.set(kind, l);
    }
    return l;
  };
  const refuse = (kind: CredentialKind, msBeforeNext: number) => {
    const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
    return new TooManyRequests(
      'too_many_attempts',
      `Too many failed ${kind.replace('_', ' ')} attempts; try again in ${seconds} s.`,
      seconds,
    );
  };
  return {
    async assertAllowed(kind, key) {
      let res: RateLimiterRes | null = null;
      try {
        res = await limiter(kind).get(key);
      } catch (err) {
        log.warn({ err: (err as Error).message, kind }, 'auth throttle unavailable');
      }
      if (res && res.consumedPoints >= limits[kind].failures) throw refuse(kind, res.msBeforeNext);
    },
    async failed(kind, key, context = {}) {
      let consumed: number | undefined;
      try {
        consumed = (await limiter(kind).consume(key)).consumedPoints;
      } catch (res) {
        if (res instanceof RateLimiterRes) consumed = res.consumedPoints;
        else log.warn({ err: (res as Error).message, kind }, 'auth throttle unavailable');
      }
      const info = requestInfo.getStore();
      const { keyPrefix, ...rest } = context;
      log.warn(
        {
          event: 'auth_failure',
          kind,
          ip: info?.ip,
          route: info?.route?.(),
          key_prefix: keyPrefix,
          failures: consumed,
          limit: limits[kind].failures,
          ...rest,
        },
        'authentication failed',
      );
    },
  };
}

/** What may be logged of a presented secret: its first 8 characters (the stored key_prefix length). */
export function secretPrefix(secret: string | undefined): string | undefined {
  if (!secret) return undefined;
  return secret.length >= 16 ? secret.slice(0, 8) : '(short)';
}
