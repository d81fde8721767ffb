import { csvLine } from '../platform/csv';
import { csvFile } from '../bulk/results-attachment';
import { html } from '../mail/html';
import type { AttachmentToRender, EmailDraft } from '../mail/outbox';
import { buttonLink, CELL, layout, plural, raw, TABLE, th, type JobSummary } from '../mail/templates';

/** A push's own email texts (the results email is the engine's, `bulk/results-email.ts`). */

/** A domain the gaining reseller received: one row of the notice's CSV. */
export interface ReceivedDomain {
  domain: string;
  pushed_at: Date | null;
  was_locked: boolean | null;
  relocked: boolean | null;
  /** The username of the gaining reseller's registrant profile the domain now has. */
  profile: string | null;
}

/** The notice's parts name this many domains; the CSV has every one. */
export const NOTICE_LISTED = 20;

/** What the notice's parts say of the domains received: counts and the first NOTICE_LISTED names. */
export interface ReceivedSummary {
  count: number;
  /** Were locked at the losing side; of those, locked again. */
  locked: number;
  relocked: number;
  first: { domain: string }[];
}

const RECEIVED_CSV_COLUMNS = ['domain', 'pushed_at', 'was_locked', 'relocked', 'profile'] as const;

/** The notice's CSV rows, one per domain received (after its header line, `receivedCsv`). */
export function receivedCsvRows(received: ReceivedDomain[]): string {
  return received.map((d) => csvLine(RECEIVED_CSV_COLUMNS.map((c) => d[c]))).join('');
}

/** The notice's attachment: every domain received, one row each. */
export function receivedCsv(received: ReceivedDomain[]): string {
  return csvLine([...RECEIVED_CSV_COLUMNS]) + receivedCsvRows(received);
}

/** The renderer's name in the relay (the push kind's `renderers`). */
export const RECEIVED_CSV = 'push-received-csv';

/** The notice's CSV by name and type: gzipped past PLAIN_CSV_MAX_ITEMS domains, as the results CSV. */
export const receivedFile = (jobId: string, count: number) => csvFile(`push-${jobId}-received.csv`, count);

/**
 * The gaining side's notice: a short summary (how many, from whom, when, the job's page) with the
 * full list as a CSV attachment, made by the relay when it sends the email (`RECEIVED_CSV`), not
 * in the transaction that ends the job. However big the job, the parts name at most NOTICE_LISTED
 * domains.
 */
export function gainingNotification(
  to: string,
  job: JobSummary,
  received: ReceivedSummary,
  jobUrl?: string,
): EmailDraft & { attachments: AttachmentToRender[] } {
  const { count: n, locked, relocked } = received;
  const shown = received.first.slice(0, NOTICE_LISTED);
  const more = n - shown.length;
  const file = receivedFile(job.id, n);
  const filename = file.filename;
  const when = job.finished_at ? new Date(job.finished_at).toISOString() : 'n/a';
  const lockedLine = locked
    ? `${plural(locked, 'domain was', 'domains were')} locked at the losing side: ${relocked === locked ? 'every one is' : plural(relocked, 'is', 'are')} locked again.`
    : '';
  const text = [
    `${plural(n, 'domain')} received from reseller "${job.losing}".`,
    '',
    jobUrl ? `See job ${job.id} in the console: ${jobUrl}` : `Job ${job.id}.`,
    `Finished: ${when}`,
    ...(lockedLine ? [lockedLine] : []),
    'You are billed for them from the start of your next full billing cycle.',
    '',
    more ? `Domains received (the first ${shown.length} of ${n.toLocaleString('en-US')}):` : 'Domains received:',
    ...shown.map((d) => `  ${d.domain}`),
    more ? `  … and ${more.toLocaleString('en-US')} more, see the attached CSV (${filename}).` : '',
    ...(more ? [] : [`The attached CSV (${filename}) lists them too.`]),
  ].join('\n');
  const subject = `[domain-push] ${plural(n, 'domain')} received from ${job.losing}`;
  const body = html`<h1 style="font-size:20px;margin:0 0 8px">${plural(n, 'domain')} received from ${job.losing}</h1>
<p>Reseller <strong>${job.losing}</strong> pushed ${plural(n, 'domain')} to your account (job <code>${job.id}</code>).
You are billed for them from the start of your next full billing cycle.</p>
${jobUrl ? buttonLink(jobUrl, 'View the job in the console', 'data-job-link') : ''}
<table ${raw(TABLE)} aria-label="Summary"><tbody>
<tr><th ${raw(CELL)} scope="row">Domains received</th><td ${raw(CELL)}>${n.toLocaleString('en-US')}</td></tr>
<tr><th ${raw(CELL)} scope="row">From</th><td ${raw(CELL)}>${job.losing}</td></tr>
<tr><th ${raw(CELL)} scope="row">Finished</th><td ${raw(CELL)}>${when}</td></tr>
${locked ? html`<tr><th ${raw(CELL)} scope="row">Were locked, locked again</th><td ${raw(CELL)}>${locked.toLocaleString('en-US')}, ${relocked.toLocaleString('en-US')}</td></tr>` : ''}
</tbody></table>
<table ${raw(TABLE)} aria-label="${more ? `The first ${shown.length} domains received` : 'Domains received'}">
<thead><tr>${th('Domain')}</tr></thead>
<tbody>${shown.map((d) => html`<tr><td ${raw(CELL)}>${d.domain}</td></tr>`)}</tbody>
</table>
${more ? html`<p>… and ${more.toLocaleString('en-US')} more: every domain is in the attached CSV (<code>${filename}</code>).</p>` : html`<p>The attached CSV (<code>${filename}</code>) lists them too.</p>`}`;
  return {
    dedupeKey: `gaining:${job.id}`,
    to,
    subject,
    text,
    html: layout(subject, body),
    attachments: [{ ...file, render: { name: RECEIVED_CSV, args: { job_id: job.id } } }],
  };
}
