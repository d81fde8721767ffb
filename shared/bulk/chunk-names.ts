import type { Deps } from '../platform/deps';
import { enqueueChunks } from './fairness';
import type { BulkDeps, BulkKindDef } from './kind';
import type { BulkJob } from './model';

/**
 * What an operator reads on the dashboard for one chunk job, in its kind's words, e.g.
 * `push 3f2a1b2c… chunk 4/50 losing→gaining, 1,000 domains` (the kind's name and `labels.units`).
 */
function chunkName(c: { kind: string; units: string; jobId: string; chunk: number; chunks: number; who: string; items: number }): string {
  return `${c.kind} ${c.jobId.slice(0, 8)}… chunk ${c.chunk + 1}/${c.chunks} ${c.who}, ${c.items.toLocaleString('en-US')} ${c.units}`;
}

/** Who a chunk is for: the kind's `chunkParty`, else `losing→gaining` (or the losing reseller alone). */
function chunkParty(kind: BulkKindDef | undefined, job: BulkJob, resellers: { losing: string; gaining: string | null }): string {
  if (kind?.chunkParty) return kind.chunkParty(job, resellers);
  return resellers.gaining === null ? resellers.losing : `${resellers.losing}→${resellers.gaining}`;
}

/**
 * Names for a job's chunks, from its kind, its resellers and each chunk's item count. The kind comes
 * from the table the process runs with (every process's deps carry it; a caller holding plain
 * `Deps` gets the generic words).
 */
async function chunkNames(deps: Deps, job: BulkJob, chunks: number[]): Promise<Map<number, string>> {
  const kind = (deps as Partial<BulkDeps>).kinds?.[job.kind];
  const ids = [job.losing_reseller_id, job.gaining_reseller_id].filter((v): v is number => v !== null);
  const resellers = await deps.db('resellers').whereIn('id', ids).select('id', 'username');
  const username = (id: number | null) => resellers.find((r) => Number(r.id) === Number(id))?.username ?? `#${id}`;
  const who = chunkParty(kind, job, {
    losing: username(job.losing_reseller_id),
    gaining: job.gaining_reseller_id === null ? null : username(job.gaining_reseller_id),
  });
  // Items per chunk, whatever their status, from the chunk counters (started or not).
  const { rows: counts } = await deps.db.raw(
    `select chunk, (select coalesce(sum(value::int), 0) from jsonb_each_text(counts))::int as n
     from bulk_job_chunk_counts where job_id = ? and chunk = any(?::int[])`,
    [job.id, chunks],
  );
  const items = new Map((counts as { chunk: number; n: number }[]).map((r) => [Number(r.chunk), Number(r.n)]));
  return new Map(
    chunks.map((chunk) => [
      chunk,
      chunkName({
        kind: job.kind,
        units: kind?.labels.units ?? 'items',
        jobId: job.id,
        chunk,
        chunks: job.chunk_count,
        who,
        items: items.get(chunk) ?? 0,
      }),
    ]),
  );
}

/** enqueueChunks with readable names; a failed name lookup never stops the enqueue. `jobName` is the kind's. */
export async function enqueueNamedChunks(deps: Deps, jobName: string, job: BulkJob, chunks: number[]): Promise<void> {
  if (chunks.length === 0) return;
  const names = await chunkNames(deps, job, chunks).catch((err) => {
    deps.log.warn({ job_id: job.id, err: (err as Error).message }, 'could not name chunk jobs');
    return undefined;
  });
  await enqueueChunks(deps.queues, jobName, job, chunks, names);
}
