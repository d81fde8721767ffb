import { Router, type Response } from 'express';
import type { Deps } from '../shared/platform/deps';
import { getAttachment, getEmail, listEmails } from '../shared/mail/capture';
import { html, SafeHtml } from '../shared/mail/html';
import { adminCsrfGuard } from './dashboard';
import { pageCsp, setPageHeaders, styleHash } from './security-headers';

export const MAILBOX_PATH = '/admin/emails';

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:12px 24px}header a{color:#fff}
main{padding:16px 24px;max-width:1100px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #d0d7de;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#eaeef2}
.note{background:#ddf4ff;border:1px solid #54aeff;padding:8px 12px;margin:0 0 16px}
.warn{background:#fff8c5;border:1px solid #d4a72c}
.status-sent{color:#1a7f37}.status-pending{color:#9a6700}.status-error{color:#cf222e}
pre{white-space:pre-wrap;background:#fff;border:1px solid #d0d7de;padding:12px;font-size:13px}
iframe{width:100%;height:85vh;resize:vertical;border:1px solid #d0d7de;background:#fff}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;padding:12px;border:1px solid #d0d7de}
dt{font-weight:600}dd{margin:0}
a{color:#0969da}
caption{text-align:left;padding:4px 0}
`;

/** The page's policy: the strict one, its one <style> named by hash; the email's HTML part framed from here. */
const MAILBOX_CSP = pageCsp({ styleHashes: [styleHash(STYLE)] });

function page(res: Response, title: string, body: SafeHtml) {
  res.status(200).type('html').set('Cache-Control', 'no-store');
  setPageHeaders(res, MAILBOX_CSP);
  res.send(
    html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · domain-push mailbox</title><style>${new SafeHtml(STYLE)}</style></head>
<body><header><strong><a href="${MAILBOX_PATH}">domain-push mailbox</a></strong> · <a href="/admin/queues">dashboard</a> · <a href="/docs">API docs</a></header>
<main>${body}</main></body></html>`.value,
  );
}

type Row = { sent_at: Date | null; last_error: string | null; attempts: number; transport: string | null };
function status(r: Row): { label: string; cls: string } {
  if (r.sent_at) return { label: r.transport === 'capture' ? 'captured' : 'sent', cls: 'status-sent' };
  if (r.last_error) return { label: `retrying (${r.attempts} attempts)`, cls: 'status-error' };
  return { label: 'waiting to be sent', cls: 'status-pending' };
}
const when = (d: Date | null) => (d ? new Date(d).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '');

function modeNote(deps: Deps): SafeHtml {
  return deps.mailer.kind === 'capture'
    ? html`<p class="note" role="note">Email capture (no <code>SMTP_URL</code>): emails are kept here instead of being sent. A captured
message is the recipient's copy, single-use links included, so every flow (a customer's claim too) can be tried from here.</p>`
    : html`<p class="note warn" role="note">Sending through SMTP: this is the outbox. A single-use link (a claim invitation) is masked
here and removed from the stored copy once the email has been sent.</p>`;
}

/** An HTML mailbox over the outbox, for a person with the operator key (basic auth, like the dashboard). */
export function mailboxRouter(deps: Deps): Router {
  const r = Router();
  r.use(adminCsrfGuard);

  r.get('/', async (req, res) => {
    const list = await listEmails(deps.db, req.query);
    const rows = list.items.map((e) => {
      const s = status(e);
      return html`<tr>
<td>${when(e.created_at)}</td><td>${e.to}</td>
<td><a href="${MAILBOX_PATH}/${e.id}">${e.subject}</a></td>
<td class="${s.cls}">${s.label}</td><td>${e.has_html ? 'text + HTML' : 'text'}</td><td>${e.attachment_count || ''}</td>
</tr>`;
    });
    page(
      res,
      'Emails',
      html`<h1>Emails</h1>${modeNote(deps)}
${
  rows.length
    ? html`<table><caption>Newest first</caption>
<thead><tr><th scope="col">Created</th><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Status</th><th scope="col">Parts</th><th scope="col">Attachments</th></tr></thead>
<tbody>${rows}</tbody></table>`
    : html`<p>No emails yet. A push with <code>email_results_to</code>, a gaining reseller's notification email, or a customer release writes one.</p>`
}
${list.next_cursor ? html`<p><a rel="next" href="${MAILBOX_PATH}?cursor=${list.next_cursor}&limit=${String(req.query.limit ?? 100)}">Older emails →</a></p>` : ''}`,
    );
  });

  r.get('/:id', async (req, res) => {
    const e = await getEmail(deps.db, String(req.params.id));
    const s = status(e);
    const attachments = e.attachments;
    page(
      res,
      e.subject,
      html`<p><a href="${MAILBOX_PATH}">← all emails</a></p>
<h1>${e.subject}</h1>
<dl>
<dt>To</dt><dd>${e.to}</dd>
<dt>From</dt><dd>${deps.config.SMTP_FROM}</dd>
<dt>Created</dt><dd>${when(e.created_at)}</dd>
<dt>Status</dt><dd class="${s.cls}">${s.label}${e.sent_at ? ` at ${when(e.sent_at)}` : ''}</dd>
${e.last_error ? html`<dt>Last error</dt><dd>${e.last_error}</dd>` : ''}
<dt>Message-ID key</dt><dd><code>${e.dedupe_key}</code></dd>
</dl>
${modeNote(deps)}
<h2>Attachments</h2>
${
  attachments.length
    ? html`<ul>${attachments.map((a, i) =>
        a.pending
          ? html`<li>${a.filename} (${a.contentType ?? 'application/octet-stream'}, made when the email is sent)</li>`
          : html`<li><a href="${MAILBOX_PATH}/${e.id}/attachments/${i}" download="${a.filename}">${a.filename}</a> (${a.contentType ?? 'application/octet-stream'}, ${Buffer.byteLength(a.content, a.encoding === 'base64' ? 'base64' : 'utf8').toLocaleString('en-US')} bytes)</li>`,
      )}</ul>`
    : html`<p>None.</p>`
}
<h2>HTML part</h2>
${e.html ? html`<iframe title="HTML part of the email" sandbox src="${MAILBOX_PATH}/${e.id}/html"></iframe>` : html`<p>This email has no HTML part.</p>`}
<h2>Text part</h2>
<pre>${e.text}</pre>`,
    );
  });

  // The email's own HTML, shown in a sandboxed frame: no scripts, no remote loads, whatever it holds.
  r.get('/:id/html', async (req, res) => {
    const e = await getEmail(deps.db, String(req.params.id));
    res
      .status(200)
      .type('html')
      // Framed by the mailbox page only (this origin): never by another site.
      .set('Content-Security-Policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
      .set({ 'X-Frame-Options': 'SAMEORIGIN', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' })
      .send(e.html ?? '');
  });

  r.get('/:id/attachments/:n', async (req, res) => {
    const a = await getAttachment(deps.db, String(req.params.id), String(req.params.n));
    res
      .status(200)
      .type(a.contentType ?? 'application/octet-stream')
      .attachment(a.filename)
      .set('Cache-Control', 'no-store')
      .send(Buffer.from(a.content, a.encoding === 'base64' ? 'base64' : 'utf8'));
  });
  return r;
}
