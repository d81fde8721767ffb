import type { Config } from './config';
import type { Db } from './db';
import type { Logger } from './logger';
import type { Mailer } from '../mail/mailer';
import type { Metrics } from './metrics';
import type { Queues } from './queues';
import type { RedisClient } from './redis';
import type { RegistryGateway } from '../catalog/registry';
import type { AuthThrottle } from './throttle';

/** Everything a service needs, passed in one object so tests hand in real parts and a chosen clock. */
export interface Deps {
  config: Config;
  db: Db;
  /** The producer connection: fails fast when Redis is away. */
  redis: RedisClient;
  queues: Queues;
  registry: RegistryGateway;
  mailer: Mailer;
  metrics: Metrics;
  log: Logger;
  /** Failed-authentication counters shared by every API process (Redis). */
  authThrottle: AuthThrottle;
  clock: () => Date;
}
