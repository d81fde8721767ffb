import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Knex } from 'knex';
import type { Db } from '../platform/db';
import { csvLine } from '../platform/csv';
import { isoMillis } from '../platform/sql';
import type { Attachment, AttachmentRenderer, AttachmentToRender } from '../mail/outbox';
import type { KindTable } from './kind';
import { ITEM_CSV_COLUMNS, itemView, type BulkJob, type ItemRow } from './model';

/**
 * A job of up to this many items attaches its results email's CSV as it is; a bigger one attaches
 * it gzipped (`….csv.gz`, base64 in the outbox). The CSV of a 500,000-domain push is about 33 MB:
 * built as one string, then JSON for the outbox row, it took the worker from 102 to 295 MB of RSS,
 * and few mail servers take a 33 MB message. Gzipped page by page it stays a few MB.
 */
export const PLAIN_CSV_MAX_ITEMS = 50_000;
const PAGE_ROWS = 5_000;

type ResultsAttachment = Attachment & { contentType: string };

/** The columns the CSV shows (ITEM_CSV_COLUMNS, through itemView), and the id the pages go by. */
const CSV_READ = ['id', 'domain_name', 'product', 'status', 'reason', 'message', 'was_locked', 'relocked'] as const;
type CsvRow = Pick<ItemRow, (typeof CSV_READ)[number]> & { finished_at: string | null };

/**
 * The results CSV of an ended job (every item is a row by then: no unstarted chunk is left), page
 * by page in id order, each page one index range scan (keyset on id): the items list's union
 * with unstarted chunks cannot be read in id order without sorting what is left of the job, which
 * made the pages of a 500,000-item job quadratic (45 s for the whole CSV on a loaded machine).
 * Only the columns the CSV shows are read, `finished_at` as the ISO text it prints: the CSV is
 * written after the last chunk and before the job ends, so its time is the push's, and parsing
 * each row's timestamps into Dates only to print them again was most of it.
 */
async function* endedJobCsv(db: Knex, jobId: string): AsyncGenerator<string> {
  yield csvLine([...ITEM_CSV_COLUMNS]);
  let after = 0;
  for (;;) {
    const rows: CsvRow[] = await db('bulk_job_items')
      .where({ job_id: jobId })
      .where('id', '>', after)
      .orderBy('id')
      .limit(PAGE_ROWS)
      .select(...CSV_READ, db.raw(`${isoMillis('finished_at')} as finished_at`));
    if (rows.length === 0) return;
    let out = '';
    for (const r of rows) {
      const v = itemView(r);
      out += csvLine(ITEM_CSV_COLUMNS.map((c) => v[c]));
    }
    yield out;
    // A short page is the last: no statement to learn that the next one is empty.
    if (rows.length < PAGE_ROWS) return;
    after = Number(rows[rows.length - 1].id);
  }
}

const gzipChunk = (z: zlib.Gzip, text: string) =>
  new Promise<void>((resolve, reject) => {
    z.write(text, (err) => (err ? reject(err) : resolve()));
  });

type JobHead = Pick<BulkJob, 'id' | 'kind' | 'total'>;

type CsvFile = Pick<ResultsAttachment, 'filename' | 'contentType' | 'encoding'>;

/** A job's CSV of `rows` rows, by name and type: plain up to PLAIN_CSV_MAX_ITEMS rows, gzipped past it. */
export function csvFile(filename: string, rows: number): CsvFile {
  return rows <= PLAIN_CSV_MAX_ITEMS
    ? { filename, contentType: 'text/csv' }
    : { filename: `${filename}.gz`, contentType: 'application/gzip', encoding: 'base64' };
}

const resultsFile = (job: JobHead) => csvFile(`${job.kind}-${job.id}-results.csv`, job.total);

/** The attachment `file` names, from the CSV's text in parts: gzipped as it is read when `file` says so. */
export async function csvAttachment(file: CsvFile, parts: AsyncIterable<string>): Promise<ResultsAttachment> {
  if (!file.encoding) {
    let csv = '';
    for await (const part of parts) csv += part;
    return { ...file, content: csv };
  }
  const z = zlib.createGzip({ level: 6 });
  const out: Buffer[] = [];
  z.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise<void>((resolve, reject) => {
    z.once('end', resolve);
    z.once('error', reject);
  });
  for await (const part of parts) await gzipChunk(z, part);
  z.end();
  await ended;
  return { ...file, content: Buffer.concat(out).toString('base64') };
}

/** The renderer's name in the relay (`RESULTS_RENDERERS`). */
const RESULTS_CSV = 'bulk-results-csv';

/**
 * The results email's attachment as the job's end queues it: made by the relay when it sends the
 * email (`RESULTS_RENDERERS`), not in the transaction that ends the job. An ended job's items never
 * change, so the CSV is the same whenever it is made; building it at the end was 0.1–0.25 s of a
 * 50,000-domain push (seconds for 500,000) during which the job looked unfinished.
 */
export function resultsAttachmentToRender(job: JobHead): AttachmentToRender {
  return { ...resultsFile(job), render: { name: RESULTS_CSV, args: { job_id: job.id } } };
}

/** The engine's renderers (the results CSV of any kind's job). */
const RESULTS_RENDERERS: Record<string, AttachmentRenderer> = {
  [RESULTS_CSV]: async (db: Db, args) => {
    const job: JobHead | undefined = await db('bulk_jobs')
      .where({ id: String(args.job_id) })
      .first('id', 'kind', 'total');
    if (!job) throw new Error(`no bulk job ${args.job_id}`);
    return resultsAttachment(db, job);
  },
};

/** The results email's attachment: the CSV as it is for a job of up to PLAIN_CSV_MAX_ITEMS, else gzipped as it is read. */
export async function resultsAttachment(db: Knex, job: JobHead): Promise<ResultsAttachment> {
  return csvAttachment(resultsFile(job), endedJobCsv(db, job.id));
}

/** For tests and tools: the CSV text back from an attachment either way. */
export async function attachmentCsv(a: { content: string; encoding?: string }): Promise<string> {
  if (a.encoding !== 'base64') return a.content;
  return (await promisify(zlib.gunzip)(Buffer.from(a.content, 'base64'))).toString('utf8');
}

/** Every renderer the relay needs (worker/runtime.ts): the engine's and each kind's, no name twice. */
export function attachmentRenderers(kinds: KindTable): Record<string, AttachmentRenderer> {
  const all: Record<string, AttachmentRenderer> = { ...RESULTS_RENDERERS };
  for (const kind of Object.values(kinds)) {
    for (const [name, render] of Object.entries(kind.renderers ?? {})) {
      if (all[name]) throw new Error(`attachment renderer "${name}" of kind ${kind.name} is named twice`);
      all[name] = render;
    }
  }
  return all;
}
