import { buttonLink, CELL, layout, raw, TABLE, th, type JobSummary } from '../mail/templates';
import { html, type SafeHtml } from '../mail/html';
import type { EmailDraft } from '../mail/outbox';
import { outcomeText } from './outcome';
import { countOrder } from './kind';

/** The results email of a bulk job (any kind): the engine's, written by finalize.ts when a job ends. */

function duration(start: Date | null, end: Date | null): string {
  if (!start || !end) return 'n/a';
  const s = Math.max(0, Math.round((new Date(end).getTime() - new Date(start).getTime()) / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

/**
 * The outcome in the words of API, console and CLI ("completed with 2 failures (5 of 7 pushed)",
 * "all 7 failed", "cancelled after 1,000 of 20,000 pushed"): the first words of the subject and of
 * the summary. A job that failed on an error never reads as a success, whatever its items say.
 */
function outcomeOf(job: JobSummary): string {
  const text = outcomeText(job);
  if (job.status !== 'failed' || /fail/.test(text)) return text;
  const done = job.counts[job.doneStatus] ?? 0;
  return `failed after ${done.toLocaleString('en-US')} of ${job.total.toLocaleString('en-US')} ${job.doneStatus}`;
}

/** What the status means for the items, after the outcome. */
function statusNote(job: JobSummary): string {
  if (job.status === 'cancelled')
    return 'The job was cancelled: items already done stay done (what was done is not undone); the rest are marked cancelled.';
  if (job.status === 'failed')
    return `The job failed after retries (${job.error ?? 'unknown error'}): items already done stay done; the ones it could not do are marked failed/error.`;
  const notDone = (job.counts.failed ?? 0) + (job.counts.skipped ?? 0);
  return notDone ? 'Every item has finished; the ones not done are listed with their reasons.' : 'Every item has finished.';
}

/** An item that did not end as done: shown in the results email's first rows. */
interface ProblemItem {
  domain: string;
  status: string;
  reason: string | null;
  message: string | null;
}

/** How many not-done items the HTML part shows; the CSV has them all. */
export const PROBLEM_ROWS = 20;

/** Statuses with items, done first, in the same order in the text and the HTML part. */
function countRows(job: JobSummary): [string, number][] {
  const order = countOrder([job.doneStatus]);
  const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
  return Object.entries(job.counts)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(a) - rank(b));
}

function countsTable(job: JobSummary): SafeHtml {
  const rows = countRows(job);
  return html`<table ${raw(TABLE)} aria-label="Items by status">
<thead><tr>${th('Status')}${th('Items')}</tr></thead>
<tbody>${rows.map(([status, n]) => html`<tr><td ${raw(CELL)}>${status}</td><td ${raw(CELL)}>${n.toLocaleString('en-US')}</td></tr>`)}
<tr><td ${raw(CELL)}><strong>total</strong></td><td ${raw(CELL)}><strong>${job.total.toLocaleString('en-US')}</strong></td></tr></tbody>
</table>`;
}

function problemsTable(job: JobSummary, problems: ProblemItem[]): SafeHtml {
  const notDone = (job.counts.failed ?? 0) + (job.counts.skipped ?? 0);
  if (problems.length === 0) return html``;
  const shown = problems.length < notDone ? `the first ${problems.length} of ${notDone.toLocaleString('en-US')}` : `all ${notDone}`;
  return html`<h2 style="font-size:16px;margin:16px 0 4px">Not done: failed or skipped (${shown})</h2>
<table ${raw(TABLE)} aria-label="Items not done">
<thead><tr>${th('Domain')}${th('Status')}${th('Reason')}${th('Message')}</tr></thead>
<tbody>${problems.map(
    (p) =>
      html`<tr><td ${raw(CELL)}>${p.domain}</td><td ${raw(CELL)}>${p.status}</td><td ${raw(CELL)}>${p.reason ?? ''}</td><td ${raw(CELL)}>${p.message ?? ''}</td></tr>`,
  )}</tbody>
</table>`;
}

/**
 * `what` is the kind's name for the job ("Bulk push to acme", "Customer release"); `jobUrl` its page
 * in the console. The subject and the first line say the outcome, never a bare status. The CSV of
 * every item is the caller's to attach (finalize.ts queues it to be made when the email is sent).
 */
export function resultsEmail(to: string, job: JobSummary, what: string, problems: ProblemItem[] = [], jobUrl?: string): EmailDraft {
  const outcome = outcomeOf(job);
  const countLines = countRows(job)
    .map(([status, n]) => `  ${status}: ${n.toLocaleString('en-US')}`)
    .join('\n');
  const text = [
    `${what}: ${outcome}.`,
    '',
    jobUrl ? `See job ${job.id} in the console: ${jobUrl}` : `Job ${job.id}.`,
    '',
    `Items in the job: ${job.total.toLocaleString('en-US')}`,
    countLines,
    '',
    `Submitted: ${new Date(job.created_at).toISOString()}`,
    `Started:   ${job.started_at ? new Date(job.started_at).toISOString() : 'n/a'}`,
    `Finished:  ${job.finished_at ? new Date(job.finished_at).toISOString() : 'n/a'}`,
    `Duration:  ${duration(job.started_at, job.finished_at)}`,
    '',
    statusNote(job),
    'The attached CSV lists the result of every item (domain,status,reason,message,was_locked,relocked,finished_at).',
  ].join('\n');
  const when = (d: Date | null) => (d ? new Date(d).toISOString() : 'n/a');
  const subject = `[domain-push] ${what}: ${outcome}`;
  const body = html`<h1 style="font-size:20px;margin:0 0 8px">${what}: ${outcome}</h1>
<p>Job <code>${job.id}</code> of <strong>${job.losing}</strong>${job.gaining ? html`, for <strong>${job.gaining}</strong>` : ''}.</p>
${jobUrl ? buttonLink(jobUrl, 'View the job in the console', 'data-job-link') : ''}
${countsTable(job)}
<table ${raw(TABLE)} aria-label="Timings"><tbody>
<tr><th ${raw(CELL)} scope="row">Submitted</th><td ${raw(CELL)}>${when(job.created_at)}</td></tr>
<tr><th ${raw(CELL)} scope="row">Started</th><td ${raw(CELL)}>${when(job.started_at)}</td></tr>
<tr><th ${raw(CELL)} scope="row">Finished</th><td ${raw(CELL)}>${when(job.finished_at)}</td></tr>
<tr><th ${raw(CELL)} scope="row">Duration</th><td ${raw(CELL)}>${duration(job.started_at, job.finished_at)}</td></tr>
</tbody></table>
<p>${statusNote(job)}</p>
${problemsTable(job, problems)}
<p>The attached CSV lists the result of every item (domain, status, reason, message, was_locked, relocked, finished_at).</p>
${jobUrl ? html`<p style="color:#656d76;font-size:12px">The job's page: <a href="${jobUrl}">${jobUrl}</a></p>` : ''}`;
  return {
    dedupeKey: `results:${job.id}`,
    to,
    subject,
    text,
    html: layout(subject, body),
  };
}
