import type { RedisClient } from './redis';
import type { Db } from './db';

/**
 * Which deployment a database belongs to, and the BullMQ key prefix that follows from it. Two
 * deployments on one Redis each get their own prefix (inside the hash tag, so Redis Cluster
 * keeps a deployment's keys in one slot), and a prefix is claimed by the database that uses it.
 */
export async function deploymentId(db: Db): Promise<string> {
  const row = await db('deployment').first('id');
  if (!row) throw new Error('The database has no deployment row: run the migrations (npm run migrate)');
  return String(row.id);
}

export function prefixFor(deploymentId: string): string {
  return `{push-${deploymentId.replace(/-/g, '').slice(0, 12)}}`;
}

/**
 * What tells one database from another, including a copy of it (a restored dump or a cloned
 * database carries the same deployment row): the server's system identifier, the database's
 * name and its oid.
 */
export async function databaseFingerprint(db: Db): Promise<string> {
  const { rows } = await db.raw(
    `select (select system_identifier from pg_control_system())::text as system, current_database() as name,
            (select oid from pg_database where datname = current_database())::text as oid`,
  );
  return `${rows[0].system}/${rows[0].name}/${rows[0].oid}`;
}

export const ownerKey = (prefix: string) => `${prefix}:deployment`;

export class QueuePrefixTaken extends Error {
  constructor(
    readonly prefix: string,
    readonly owner: string,
  ) {
    super(
      `The queue prefix ${prefix} on this Redis belongs to another database (${owner}). ` +
        "Two deployments sharing a prefix take each other's chunks, so this one does not start. " +
        'Give it its own prefix (unset QUEUE_PREFIX to derive it from this database, or set another), ' +
        `or, if that other database is gone for good, release the prefix: redis-cli del '${ownerKey(prefix)}'.`,
    );
  }
}

/**
 * Claims `prefix` for this database (first come, kept for good), or throws QueuePrefixTaken when
 * another database holds it. Every process of one deployment shares the database, so they agree.
 */
export async function claimQueuePrefix(redis: RedisClient, prefix: string, fingerprint: string): Promise<void> {
  const key = ownerKey(prefix);
  const set = await redis.set(key, fingerprint, 'NX');
  if (set === 'OK') return;
  const owner = await redis.get(key);
  if (owner !== null && owner !== fingerprint) throw new QueuePrefixTaken(prefix, owner);
  if (owner === null) await redis.set(key, fingerprint, 'NX');
}
