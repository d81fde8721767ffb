import { stripControl } from '../platform/validation';
import type { EmailDraft } from './outbox';

function duration(start: Date | null, end: Date | null): string {
  if (!start || !end) return 'n/a';
  const s = Math.max(0, Math.round((new Date(end).getTime() - new Date(start).getTime()) / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

export interface JobSummary {
  id: string;
  kind: 'push' | 'release';
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

export function resultsEmail(to: string, job: JobSummary, csv: string): EmailDraft {
  const what = job.kind === 'push' ? `Bulk push to ${job.gaining}` : 'Customer release';
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
  return {
    dedupeKey: `results:${job.id}`,
    to,
    subject: `[domain-push] ${what}: job ${job.status} (${job.counts.pushed ?? job.counts.released ?? 0} of ${job.total} done)`,
    text,
    attachments: [{ filename: `${job.kind}-${job.id}-results.csv`, content: csv, contentType: 'text/csv' }],
  };
}

export function gainingNotification(to: string, job: JobSummary, domains: string[]): EmailDraft {
  const text = [
    `${domains.length} domain(s) were pushed to your account by reseller "${job.losing}" (job ${job.id}).`,
    'You are billed for them from the start of your next full billing cycle.',
    '',
    'Domains received:',
    ...domains.map((d) => `  ${d}`),
  ].join('\n');
  return {
    dedupeKey: `gaining:${job.id}`,
    to,
    subject: `[domain-push] ${domains.length} domain(s) received from ${job.losing}`,
    text,
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
  return {
    dedupeKey: `claim:${c.jobId}`,
    containsSecret: true,
    to: c.to,
    subject: `[domain-push] Claim your account: ${c.resellerName} has released you as a customer`,
    text,
  };
}
