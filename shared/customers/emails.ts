import { stripControl } from '../platform/validation';
import { html } from '../mail/html';
import type { EmailDraft } from '../mail/outbox';
import { buttonLink, CELL, layout, plural, raw, TABLE, th } from '../mail/templates';

/** A release's own email text: the claim invitation its finish hook writes. */

interface ClaimInvitation {
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
