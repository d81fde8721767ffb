import type { Config } from './config';
import type { Db } from './db';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Queues } from './queues';
import type { RedisClient } from './redis';
import type { AuthThrottle } from './throttle';

/**
 * Everything a service needs, passed in one object so tests hand in real parts and a chosen clock.
 * The platform names only its own parts; each domain adds the port it owns to this interface from
 * its folder (TypeScript declaration merging), so the platform imports no domain:
 * `catalog/deps.ts` adds `registry` (the registry gateway), `mail/deps.ts` adds `mailer`.
 * `app/runtime.ts` fills them all in.
 */
export interface Deps {
  config: Config;
  db: Db;
  /** The producer connection: fails fast when Redis is away. */
  redis: RedisClient;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  /** Failed-authentication counters shared by every API process (Redis). */
  authThrottle: AuthThrottle;
  clock: () => Date;
}
