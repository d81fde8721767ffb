import { stripControl } from '../platform/validation';
import { csvLine } from '../platform/csv';
import { html, SafeHtml } from './html';
import type { EmailDraft } from './outbox';

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

export const CELL = 'style="border:1px solid #d0d7de;padding:4px 8px;text-align:left"';
export const TABLE = 'style="border-collapse:collapse;margin:8px 0 16px"';

/** Emails are read in mail clients: one table-based layout with inline styles, no scripts, no remote assets. */
export function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.45;color:#1f2328;background:#ffffff">
<div style="max-width:720px">${body}</div>
<p style="color:#656d76;font-size:12px;margin-top:24px">Sent by domain-push.</p>
</body></html>`.value;
}

export const th = (text: string) => html`<th ${raw(CELL)} scope="col">${text}</th>`;
/** Our own constant markup (styles), never data. */
export const raw = (s: string) => new SafeHtml(s);

/** A link drawn as a button in mail clients (a table cell keeps its padding in Outlook too). */
export function buttonLink(href: string, label: string, attr = ''): SafeHtml {
  return html`<table role="presentation" style="border-collapse:collapse;margin:12px 0"><tr><td style="background:#0969da;border-radius:6px">
<a href="${href}" ${raw(attr)} style="display:inline-block;padding:10px 16px;color:#ffffff;font-weight:bold;text-decoration:none">${label}</a>
</td></tr></table>`;
}

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

export const RECEIVED_CSV_COLUMNS = ['domain', 'pushed_at', 'was_locked', 'relocked', 'profile'] as const;

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/**
 * The gaining side's notice: a short summary (how many, from whom, when, the job's page) with the
 * full list as a CSV attachment. However big the job, the parts name at most NOTICE_LISTED domains.
 */
export function gainingNotification(to: string, job: JobSummary, received: ReceivedDomain[], jobUrl?: string): EmailDraft {
  const n = received.length;
  const locked = received.filter((d) => d.was_locked).length;
  const relocked = received.filter((d) => d.was_locked && d.relocked).length;
  const shown = received.slice(0, NOTICE_LISTED);
  const more = n - shown.length;
  const filename = `push-${job.id}-received.csv`;
  const when = job.finished_at ? new Date(job.finished_at).toISOString() : 'n/a';
  const lockedLine = locked
    ? `${plural(locked, 'domain was', 'domains were')} locked at the losing side: ${relocked === locked ? 'every one is' : `${relocked.toLocaleString('en-US')} are`} locked again.`
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
  const csv = csvLine([...RECEIVED_CSV_COLUMNS]) + received.map((d) => csvLine(RECEIVED_CSV_COLUMNS.map((c) => d[c]))).join('');
  return {
    dedupeKey: `gaining:${job.id}`,
    to,
    subject,
    text,
    html: layout(subject, body),
    attachments: [{ filename, content: csv, contentType: 'text/csv' }],
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

/**
 * The email a released customer gets: why they get it, the two ways to take over (a new account, or
 * import into an account with the same contact email), the single-use link and its expiry.
 */
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
    `Products released to you: ${plural(c.domains.length, 'domain')}, ${plural(c.packages.length, 'service package')}.`,
    ...c.domains.slice(0, 50).map((d) => `  ${d}`),
    ...(c.domains.length > 50 ? [`  … and ${c.domains.length - 50} more`] : []),
    ...c.packages.map((p) => `  package: ${p}`),
    '',
    'To claim your account, open this link in your browser (it works once):',
    '',
    `  ${c.claimUrl}`,
    '',
    'The page shows what was released to you and lets you choose one of:',
    '  - create a new account, with the email on file for you;',
    '  - import your products into an account you already have.',
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
<p>To claim your account, open this link (it works once). The page shows what was released to you and lets you choose
between creating a new account and importing your products into an account you already have.</p>
${buttonLink(c.claimUrl, 'Claim your account', 'data-claim-link')}
<p>If the button does not work, copy this address into your browser:<br><a href="${c.claimUrl}">${c.claimUrl}</a></p>
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
