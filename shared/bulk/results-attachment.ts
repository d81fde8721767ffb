import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Knex } from 'knex';
import { csvLine } from '../platform/csv';
import { isoMillis } from '../platform/sql';
import { ITEM_CSV_COLUMNS, itemView, type BulkJob, type ItemRow } from './model';

/**
 * A job of up to this many items attaches its results email's CSV as it is; a bigger one attaches
 * it gzipped (`….csv.gz`, base64 in the outbox). The CSV of a 500,000-domain push is about 33 MB:
 * built as one string, then JSON for the outbox row, it took the worker from 102 to 295 MB of RSS,
 * and few mail servers take a 33 MB message. Gzipped page by page it stays a few MB.
 */
export const PLAIN_CSV_MAX_ITEMS = 50_000;
const PAGE_ROWS = 5_000;

interface ResultsAttachment {
  filename: string;
  content: string;
  contentType: string;
  encoding?: 'base64';
}

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

/** The results email's attachment: the CSV as it is for a job of up to PLAIN_CSV_MAX_ITEMS, else gzipped as it is read. */
export async function resultsAttachment(db: Knex, job: Pick<BulkJob, 'id' | 'kind' | 'total'>): Promise<ResultsAttachment> {
  const filename = `${job.kind}-${job.id}-results.csv`;
  if (job.total <= PLAIN_CSV_MAX_ITEMS) {
    let csv = '';
    for await (const part of endedJobCsv(db, job.id)) csv += part;
    return { filename, content: csv, contentType: 'text/csv' };
  }
  const z = zlib.createGzip({ level: 6 });
  const parts: Buffer[] = [];
  z.on('data', (b: Buffer) => parts.push(b));
  const ended = new Promise<void>((resolve, reject) => {
    z.once('end', resolve);
    z.once('error', reject);
  });
  for await (const part of endedJobCsv(db, job.id)) await gzipChunk(z, part);
  z.end();
  await ended;
  return {
    filename: `${filename}.gz`,
    content: Buffer.concat(parts).toString('base64'),
    contentType: 'application/gzip',
    encoding: 'base64',
  };
}

/** For tests and tools: the CSV text back from an attachment either way. */
export async function attachmentCsv(a: { content: string; encoding?: string }): Promise<string> {
  if (a.encoding !== 'base64') return a.content;
  return (await promisify(zlib.gunzip)(Buffer.from(a.content, 'base64'))).toString('utf8');
}
