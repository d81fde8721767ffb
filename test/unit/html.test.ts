import { expect } from 'chai';
import { escapeHtml, html } from '../../shared/mail/html';
import { resultsEmail } from '../../shared/bulk/results-email';
import { claimInvitation } from '../../shared/customers/emails';

describe('HTML of emails and pages', () => {
  it('escapes every interpolated value, in text and in attributes; nested html and arrays are kept as markup', () => {
    const name = `<script>alert("x")</script> & 'co'`;
    expect(escapeHtml(name)).to.equal('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;');
    const out = html`<a title="${name}">${name}</a>${[html`<b>${'1<2'}</b>`, 'x>y']}${null}${undefined}${false}${0}`.value;
    expect(out).to.equal(
      '<a title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</a><b>1&lt;2</b>x&gt;y0',
    );
  });

  it('the results email HTML shows counts and the first items not done, escaped, with the CSV attached', () => {
    const job = {
      id: 'job-1',
      kind: 'push' as const,
      doneStatus: 'pushed',
      status: 'completed',
      total: 3,
      counts: { pushed: 1, failed: 1, skipped: 1, pending: 0 },
      losing: 'los<i>ng',
      gaining: 'gaining',
      created_at: new Date('2026-01-01T00:00:00Z'),
      started_at: new Date('2026-01-01T00:00:01Z'),
      finished_at: new Date('2026-01-01T00:00:03Z'),
    };
    const mail = resultsEmail('ops@x.example', job, 'Bulk push to gaining', [
      { domain: 'a.example', status: 'failed', reason: 'not_owned', message: 'held by <someone>' },
    ]);
    expect(mail.html).to.include('<td style="border:1px solid #d0d7de;padding:4px 8px;text-align:left">not_owned</td>');
    expect(mail.html).to.include('held by &lt;someone&gt;').and.include('los&lt;i&gt;ng').and.not.include('<i>');
    expect(mail.html).to.include('the first 1 of 2');
  });

  it('the claim invitation HTML carries the link as a link and escapes names', () => {
    const mail = claimInvitation({
      jobId: 'j',
      to: 'ann@c.example',
      customerName: '<img src=x onerror=alert(1)>',
      resellerName: 'R & R',
      claimUrl: 'http://localhost:3000/v1/claims/claim_abc',
      expiresAt: new Date('2026-02-01T00:00:00Z'),
      domains: ['a.example'],
      packages: ['Web'],
    });
    expect(mail.html).to.include('<a href="http://localhost:3000/v1/claims/claim_abc" data-claim-link ');
    expect(mail.text).to.include('open this link').and.not.include('POST');
    expect(mail.html).to.include('&lt;img src=x onerror=alert(1)&gt;').and.include('R &amp; R').and.not.include('<img');
    expect(mail.containsSecret).to.equal(true);
  });
});
