import { stripControl } from '../platform/validation';
import { html, SafeHtml } from './html';
import type { EmailDraft } from './outbox';

function duration(start: Date | null, end: Date | null): string {
  if (!start || !end) return 'n/a';
  const s = Math.max(0, Math.round((new Date(end).getTime() - new Date(start).getTime()) / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

export interface JobSummary {
  id: string;
  kind: string;
  /** The kind's done status (`pushed`, `released`): its count is the "done" of the subject. */
  doneStatus: string;
  status: string;
  total: number;
  counts: Record<string, number>;
  losing: string;
  gaining: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  error?: string | null;
}

function outcomeLine(job: JobSummary): string {
  if (job.status === 'cancelled')
    return 'The job was cancelled: items already done stay done (a push cannot be undone); the rest are marked cancelled.';
  if (job.status === 'failed')
    return `The job failed after retries (${job.error ?? 'unknown error'}): items already done stay done; the ones it could not do are marked failed/error.`;
  return 'Every item has finished.';
}

/** An item that did not end as done: shown in the results email's first rows. */
export interface ProblemItem {
  domain: string;
  status: string;
  reason: string | null;
  message: string | null;
}

/** How many not-done items the HTML part shows; the CSV has them all. */
export const PROBLEM_ROWS = 20;

const CELL = 'style="border:1px solid #d0d7de;padding:4px 8px;text-align:left"';
const TABLE = 'style="border-collapse:collapse;margin:8px 0 16px"';

/** Emails are read in mail clients: one table-based layout with inline styles, no scripts, no remote assets. */
function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.45;color:#1f2328;background:#ffffff">
<div style="max-width:720px">${body}</div>
<p style="color:#656d76;font-size:12px;margin-top:24px">Sent by domain-push.</p>
</body></html>`.value;
}

const th = (text: string) => html`<th ${raw(CELL)} scope="col">${text}</th>`;
/** Our own constant markup (styles), never data. */
const raw = (s: string) => new SafeHtml(s);

function countsTable(job: JobSummary): SafeHtml {
  const order = ['pushed', 'released', 'skipped', 'failed', 'cancelled', 'pending', 'running'];
  const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
  const rows = Object.entries(job.counts)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(a) - rank(b));
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

/** `what` is the kind's name for the job ("Bulk push to acme", "Customer release"). */
export function resultsEmail(to: string, job: JobSummary, what: string, csv: string, problems: ProblemItem[] = []): EmailDraft {
  const countLines = Object.entries(job.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `  ${status}: ${n}`)
    .join('\n');
  const text = [
    `${what} — job ${job.id} ${job.status}.`,
    '',
    `Domains in the job: ${job.total}`,
    countLines,
    '',
    `Submitted: ${new Date(job.created_at).toISOString()}`,
    `Started:   ${job.started_at ? new Date(job.started_at).toISOString() : 'n/a'}`,
    `Finished:  ${job.finished_at ? new Date(job.finished_at).toISOString() : 'n/a'}`,
    `Duration:  ${duration(job.started_at, job.finished_at)}`,
    '',
    outcomeLine(job),
    'The attached CSV lists the result of every item (domain,status,reason,message,was_locked,relocked,finished_at).',
  ].join('\n');
  const when = (d: Date | null) => (d ? new Date(d).toISOString() : 'n/a');
  const subject = `[domain-push] ${what}: job ${job.status} (${job.counts[job.doneStatus] ?? 0} of ${job.total} done)`;
  const body = html`<h1 style="font-size:20px;margin:0 0 8px">${what}: job ${job.status}</h1>
<p>Job <code>${job.id}</code> ${job.gaining ? html`pushed domains of <strong>${job.losing}</strong> to <strong>${job.gaining}</strong>` : html`released products of <strong>${job.losing}</strong>`}.</p>
${countsTable(job)}
<table ${raw(TABLE)} aria-label="Timings"><tbody>
<tr><th ${raw(CELL)} scope="row">Submitted</th><td ${raw(CELL)}>${when(job.created_at)}</td></tr>
<tr><th ${raw(CELL)} scope="row">Started</th><td ${raw(CELL)}>${when(job.started_at)}</td></tr>
<tr><th ${raw(CELL)} scope="row">Finished</th><td ${raw(CELL)}>${when(job.finished_at)}</td></tr>
<tr><th ${raw(CELL)} scope="row">Duration</th><td ${raw(CELL)}>${duration(job.started_at, job.finished_at)}</td></tr>
</tbody></table>
<p>${outcomeLine(job)}</p>
${problemsTable(job, problems)}
<p>The attached CSV lists the result of every item (domain, status, reason, message, was_locked, relocked, finished_at).</p>`;
  return {
    dedupeKey: `results:${job.id}`,
    to,
    subject,
    text,
    html: layout(subject, body),
    attachments: [{ filename: `${job.kind}-${job.id}-results.csv`, content: csv, contentType: 'text/csv' }],
  };
}

/** The HTML part lists this many domains; the text part and the CSV list every one. */
const LISTED_DOMAINS = 200;

export function gainingNotification(to: string, job: JobSummary, domains: string[]): EmailDraft {
  const text = [
    `${domains.length} domain(s) were pushed to your account by reseller "${job.losing}" (job ${job.id}).`,
    'You are billed for them from the start of your next full billing cycle.',
    '',
    'Domains received:',
    ...domains.map((d) => `  ${d}`),
  ].join('\n');
  const subject = `[domain-push] ${domains.length} domain(s) received from ${job.losing}`;
  const shown = domains.slice(0, LISTED_DOMAINS);
  const body = html`<h1 style="font-size:20px;margin:0 0 8px">${domains.length.toLocaleString('en-US')} domain(s) received</h1>
<p>Reseller <strong>${job.losing}</strong> pushed ${domains.length.toLocaleString('en-US')} domain(s) to your account (job <code>${job.id}</code>).
You are billed for them from the start of your next full billing cycle.</p>
<table ${raw(TABLE)} aria-label="Domains received">
<thead><tr>${th('Domain')}</tr></thead>
<tbody>${shown.map((d) => html`<tr><td ${raw(CELL)}>${d}</td></tr>`)}</tbody>
</table>
${domains.length > shown.length ? html`<p>… and ${(domains.length - shown.length).toLocaleString('en-US')} more: every domain is in the attached CSV.</p>` : html`<p>The attached CSV lists them too.</p>`}`;
  return {
    dedupeKey: `gaining:${job.id}`,
    to,
    subject,
    text,
    html: layout(subject, body),
    attachments: [{ filename: `push-${job.id}-received.csv`, content: ['domain', ...domains].join('\n') + '\n', contentType: 'text/csv' }],
  };
}

export interface ClaimInvitation {
  jobId: string;
  to: string;
  customerName: string;
  resellerName: string;
  claimUrl: string;
  expiresAt: Date;
  domains: string[];
  packages: string[];
}

/** §7: why they get this, the two ways to take over, the single-use link and its expiry. */
export function claimInvitation(invite: ClaimInvitation): EmailDraft {
  // Names were typed by a reseller: no control character reaches a subject line or a greeting.
  const c = { ...invite, customerName: stripControl(invite.customerName), resellerName: stripControl(invite.resellerName) };
  const expires = c.expiresAt.toISOString();
  const text = [
    `Hello ${c.customerName},`,
    '',
    `${c.resellerName} has released you as a customer. You and all your products now leave their reseller`,
    'organization, and you can manage them yourself with your own account.',
    '',
    `Products released to you: ${c.domains.length} domain(s), ${c.packages.length} service package(s).`,
    ...c.domains.slice(0, 50).map((d) => `  ${d}`),
    ...(c.domains.length > 50 ? [`  … and ${c.domains.length - 50} more`] : []),
    ...c.packages.map((p) => `  package: ${p}`),
    '',
    'To claim your account, send a POST request to this link (it works once):',
    '',
    `  ${c.claimUrl}`,
    '',
    'Choose one of:',
    '  - create a new account:            {"choice": "new_account"}',
    '  - import into an existing account: {"choice": "import", "email": "<your account email>"}',
    '',
    'Importing into an existing account requires its contact details to match the ones on file for you:',
    `the email must be ${c.to}. To import into an account with different contact details, create a new`,
    'account first, then start a change of owner from it.',
    '',
    `The link expires on ${expires} and can be used only once; after that, contact the platform support.`,
  ].join('\n');
  const subject = `[domain-push] Claim your account: ${c.resellerName} has released you as a customer`;
  const body = html`<h1 style="font-size:20px;margin:0 0 8px">Claim your account</h1>
<p>Hello ${c.customerName},</p>
<p><strong>${c.resellerName}</strong> has released you as a customer. You and all your products now leave their reseller
organization, and you can manage them yourself with your own account.</p>
<table ${raw(TABLE)} aria-label="Products released to you">
<thead><tr>${th('Product')}${th('Name')}</tr></thead>
<tbody>${c.domains.slice(0, 50).map((d) => html`<tr><td ${raw(CELL)}>domain</td><td ${raw(CELL)}>${d}</td></tr>`)}
${c.domains.length > 50 ? html`<tr><td ${raw(CELL)}>domain</td><td ${raw(CELL)}>… and ${c.domains.length - 50} more</td></tr>` : ''}
${c.packages.map((p) => html`<tr><td ${raw(CELL)}>service package</td><td ${raw(CELL)}>${p}</td></tr>`)}</tbody>
</table>
<p>To claim your account, send a <code>POST</code> request to this link (it works once):</p>
<p style="font-size:15px"><a href="${c.claimUrl}" data-claim-link>${c.claimUrl}</a></p>
<table ${raw(TABLE)} aria-label="Ways to claim">
<thead><tr>${th('To')}${th('Send this JSON body')}</tr></thead>
<tbody><tr><td ${raw(CELL)}>create a new account</td><td ${raw(CELL)}><code>{"choice": "new_account"}</code></td></tr>
<tr><td ${raw(CELL)}>import into an existing account</td><td ${raw(CELL)}><code>{"choice": "import", "email": "&lt;your account email&gt;"}</code></td></tr></tbody>
</table>
<p>Importing into an existing account requires its contact details to match the ones on file for you: the email must be
<strong>${c.to}</strong>. To import into an account with different contact details, create a new account first, then start
a change of owner from it.</p>
<p>The link expires on <strong>${expires}</strong> and can be used only once; after that, contact the platform support.</p>`;
  return {
    dedupeKey: `claim:${c.jobId}`,
    containsSecret: true,
    to: c.to,
    subject,
    text,
    html: layout(subject, body),
  };
}
