import type { Knex } from 'knex';

/**
 * Row locks let a new FOR SHARE locker join the ones holding a row while a FOR UPDATE waits, so
 * with two or more chunks of a job in flight a cancel could wait for most of the job (7 s for a
 * 20,000-domain push). A heavyweight lock queues in order: claims pass the job's gate shared,
 * cancel and suspend exclusive, so a cancel waits only for the claims already running and no
 * claim starts after it. (Two-key advisory locks do not overlap the one-key chunk locks.)
 */
export async function passJobGate(trx: Knex.Transaction, jobId: string, mode: 'shared' | 'exclusive'): Promise<void> {
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await trx.raw(`select ${fn}(${JOB_GATE_NAMESPACE}, hashtext(?))`, [jobId]);
}
const JOB_GATE_NAMESPACE = 7401;

/**
 * One lock per chunk instead of a row lock per item (a row lock is a write): whatever changes a
 * chunk's items takes it, so attempts at the same chunk take turns and the later one reads what the
 * earlier one committed.
 */
export async function lockChunk(trx: Knex.Transaction, jobId: string, chunk: number): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`${jobId}:${chunk}`]);
}
