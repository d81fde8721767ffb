import { html, SafeHtml } from './html';

/**
 * The generic parts of every email: the job summary the texts are written from, the layout, the
 * table styles and the button. The texts themselves live with who sends them: the results email
 * in `bulk/results-email.ts`, each kind's own in its folder's `emails.ts`.
 */
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

/** `n` and the noun, singular or plural: "1 domain", "1,000 domains". */
export const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
