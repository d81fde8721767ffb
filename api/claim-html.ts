import { createHash } from 'node:crypto';
import { html, SafeHtml } from '../shared/mail/html';

/**
 * The pages a released customer sees when they open their claim link: what was released,
 * the two choices as forms, the result, and the pages of a used, expired or unknown link. Plain
 * server-rendered HTML: no script, one inline style sheet allowed by its hash (see CLAIM_CSP).
 */

const STYLE = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:12px 0}
header p{margin:0 auto;max-width:880px;padding:0 16px;font-weight:600}
main{display:block;max-width:880px;margin:0 auto;padding:16px}
h1{font-size:1.75rem;line-height:1.25;margin:8px 0 12px}
h2{font-size:1.25rem;line-height:1.3;margin:28px 0 8px}
h3{font-size:1.1rem;line-height:1.3;margin:0 0 8px}
p,li,dd{overflow-wrap:anywhere}
a{color:#0969da}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px;margin:12px 0}
.choices{display:grid;grid-template-columns:minmax(0,1fr);gap:16px;align-items:start}
@media (min-width:760px){.choices{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}
.choices .card{margin:0}
.names{margin:0;padding:0 0 0 20px;columns:16rem auto;column-gap:24px}
.names li{break-inside:avoid}
label{display:block;font-weight:600;margin:12px 0 4px}
input[type=email]{font:inherit;width:100%;padding:10px;border:1px solid #6e7781;border-radius:6px;background:#fff;color:#1f2328}
input[aria-invalid=true]{border:2px solid #cf222e}
button{font:inherit;font-weight:600;width:100%;min-height:44px;margin-top:12px;padding:10px 16px;border-radius:6px;border:1px solid #1a7f37;background:#1a7f37;color:#fff;cursor:pointer}
button:hover{background:#116329}
:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.hint{color:#57606a;font-size:.95rem;margin:0 0 8px}
.error{color:#cf222e;font-weight:600;margin:6px 0 0}
.alert{background:#ffebe9;border:1px solid #cf222e;border-radius:6px;padding:10px 12px}
.ok{background:#dafbe1;border:1px solid #1a7f37;border-radius:6px;padding:10px 12px}
dl{display:grid;grid-template-columns:minmax(0,max-content) minmax(0,1fr);gap:6px 16px;margin:0}
dt{font-weight:600}dd{margin:0}
@media (max-width:480px){dl{grid-template-columns:minmax(0,1fr);gap:0}dd{margin:0 0 8px}}
.muted{color:#57606a}
.next{margin-top:16px}
`;

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/**
 * No script at all, the one style sheet above, forms posting only to this server, never framed,
 * no referrer (the token is in the address).
 */
export const CLAIM_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function page(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>${title} · domain-push</title><style>${new SafeHtml(STYLE)}</style></head>
<body><header><p>domain-push · customer account</p></header>
<main>${body}</main></body></html>`.value;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${fmt(n)} ${n === 1 ? one : many}`;
const DATE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' });
const when = (d: Date) => html`<time datetime="${d.toISOString()}">${DATE.format(d)} UTC</time>`;

interface ClaimPageData {
  customer: { name: string; email: string };
  reseller: string | null;
  domains: { count: number; names: string[] };
  packages: string[];
  expires_at: Date;
}

/** What the form sent back when the page is shown again with a problem. */
export interface ClaimFormState {
  /** A problem with the whole form (no choice made). */
  formError?: string;
  /** A problem with the import's email field, and what was typed. */
  emailError?: string;
  email?: string;
}

function products(d: ClaimPageData): string {
  const parts = [plural(d.domains.count, 'domain'), plural(d.packages.length, 'service package')];
  return `${parts[0]} and ${parts[1]}`;
}

/** The page the claim link opens: what was released, the two choices. */
export function claimPage(action: string, d: ClaimPageData, state: ClaimFormState = {}): string {
  const more = d.domains.count - d.domains.names.length;
  const emailDescribedBy = state.emailError ? 'import-email-hint import-email-error' : 'import-email-hint';
  const body = html`<h1>Claim your account</h1>
${state.formError ? html`<p class="alert" role="alert">${state.formError}</p>` : ''}
<p>Hello ${d.customer.name},</p>
<p>${d.reseller ? html`<strong>${d.reseller}</strong>` : 'Your reseller'} has released you as a customer. You and all your products
have left their reseller organization: you can now manage them yourself, with your own account.</p>

<section aria-labelledby="released-heading">
<h2 id="released-heading">What was released to you</h2>
<p>${products(d)}.</p>
<div class="card">
<h3 id="domains-heading">Domains (${fmt(d.domains.count)})</h3>
${
  d.domains.count
    ? html`<ul class="names" aria-labelledby="domains-heading">${d.domains.names.map((n) => html`<li>${n}</li>`)}</ul>
${more > 0 ? html`<p>… and ${fmt(more)} more.</p>` : ''}`
    : html`<p class="hint">No domains.</p>`
}
<h3 id="packages-heading" class="next">Service packages (${fmt(d.packages.length)})</h3>
${
  d.packages.length
    ? html`<ul class="names" aria-labelledby="packages-heading">${d.packages.map((n) => html`<li>${n}</li>`)}</ul>`
    : html`<p class="hint">No service packages.</p>`
}
</div>
</section>

<section aria-labelledby="choose-heading">
<h2 id="choose-heading">Choose how to manage them</h2>
<div class="choices">
<form class="card" method="post" action="${action}" aria-labelledby="new-heading">
<h3 id="new-heading">Create a new account</h3>
<p>A new account is created for you with the email on file: <strong>${d.customer.email}</strong>. Your products move into it.</p>
<input type="hidden" name="choice" value="new_account">
<button type="submit">Create a new account</button>
</form>
<form class="card" method="post" action="${action}" aria-labelledby="import-heading">
<h3 id="import-heading">Import into an existing account</h3>
<p>Your products move into an account you already have. Its contact details must match the ones on file for you.</p>
<input type="hidden" name="choice" value="import">
<label for="import-email">Email of your existing account</label>
<p class="hint" id="import-email-hint">It must be ${d.customer.email}. For an account with another email, create a new account, then start a change of owner from it.</p>
<input id="import-email" name="email" type="email" autocomplete="email" required maxlength="320" value="${state.email ?? ''}"
aria-describedby="${emailDescribedBy}"${state.emailError ? html` aria-invalid="true" autofocus` : ''}>
${state.emailError ? html`<p class="error" id="import-email-error">${state.emailError}</p>` : ''}
<button type="submit">Import into my account</button>
</form>
</div>
</section>
<p class="muted">This link works once and expires on ${when(d.expires_at)}.</p>`;
  return page(state.formError || state.emailError ? 'Error: claim your account' : 'Claim your account', body);
}

interface ClaimResult {
  account: { email: string; mode: string; created_at: Date | string };
  products: { domains: number; packages: number };
}

/** After a choice went through. */
export function claimDonePage(r: ClaimResult, reseller: string | null): string {
  const imported = r.account.mode === 'import';
  const what = `${plural(r.products.domains, 'domain')} and ${plural(r.products.packages, 'service package')}`;
  const body = html`<h1>Your account is ready</h1>
<p class="ok">${imported ? html`Your products were imported into your existing account.` : html`Your new account was created.`}</p>
<p>Your ${what} are now in the account for <strong>${r.account.email}</strong>. You manage them yourself from now on.</p>
<div class="card"><dl>
<dt>Account email</dt><dd>${r.account.email}</dd>
<dt>How</dt><dd>${imported ? 'Imported into an existing account' : 'New account'}</dd>
<dt>Products</dt><dd>${what}</dd>
<dt>Claimed</dt><dd>${when(new Date(r.account.created_at))}</dd>
</dl></div>
<h2>What next</h2>
<ul>
<li>${reseller ? html`<strong>${reseller}</strong>` : 'Your former reseller'} no longer manages these products. If they still need access
to a domain, share it with them from your account.</li>
<li>This link has now been used: it no longer works. You can close this page.</li>
</ul>`;
  return page('Your account is ready', body);
}

/** A link that cannot be used (any more): what happened and what to do, in words. */
export function claimProblemPage(code: string, detail?: { retryAfterSeconds?: number }): string {
  const [title, text]: [string, SafeHtml] = (() => {
    switch (code) {
      case 'token_used':
        return [
          'This link has already been used',
          html`<p>The account was claimed with this link, which works only once. If you did that, there is nothing more to do: your
products are in your account.</p><p>If you did not claim it, contact the platform support.</p>`,
        ];
      case 'token_expired':
        return [
          'This link has expired',
          html`<p>Claim links work for a limited time, and this one is past it. Your products were released to you and wait for you
to claim them: contact the platform support for a new invitation.</p>`,
        ];
      case 'not_found':
        return [
          'This link is not valid',
          html`<p>Check that you opened the whole link from the email: a long link is sometimes cut in two. If it still does not
work, contact the platform support.</p>`,
        ];
      case 'invalid_request':
        return [
          'This link or form cannot be read',
          html`<p>It holds characters that cannot be part of a claim link or an email address. Open the link from the email again,
copying all of it, and type your email by hand. If it still does not work, contact the platform support.</p>`,
        ];
      case 'too_many_requests': {
        const minutes = Math.max(1, Math.ceil((detail?.retryAfterSeconds ?? 60) / 60));
        return [
          'Too many attempts',
          html`<p>Too many wrong links were opened from your network. Try again in ${plural(minutes, 'minute')}.</p>`,
        ];
      }
      default:
        return ['Something went wrong', html`<p>Something went wrong on our side; nothing was changed. Try again in a moment.</p>`];
    }
  })();
  return page(title, html`<h1>${title}</h1>${text}`);
}
