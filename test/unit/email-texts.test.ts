import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { claimLink, consoleJobUrl, publicBase } from '../../shared/mail/links';
import { resultsEmail } from '../../shared/bulk/results-email';
import { gainingNotification, receivedCsv, type ReceivedDomain } from '../../shared/push/emails';
import type { JobSummary } from '../../shared/mail/templates';

const job = (over: Partial<JobSummary>): JobSummary => ({
  id: '3f1c2a9e-0000-4000-8000-000000000001',
  kind: 'push',
  doneStatus: 'pushed',
  status: 'completed',
  total: 7,
  counts: {},
  losing: 'losing',
  gaining: 'acme',
  created_at: new Date('2026-01-01T00:00:00Z'),
  started_at: new Date('2026-01-01T00:00:01Z'),
  finished_at: new Date('2026-01-01T00:00:03Z'),
  ...over,
});

const JOB_URL = 'https://push.example/console/queue/3f1c2a9e-0000-4000-8000-000000000001';
const subjectOf = (j: JobSummary) => resultsEmail('ops@x.example', j, 'Bulk push to acme', [], JOB_URL).subject;

describe('email texts: outcomes told straight, links to the console', () => {
  it('the results subject says the outcome, never a bare "job completed" for a job with failures', () => {
    expect(subjectOf(job({ counts: { pushed: 5, failed: 2 } }))).to.equal(
      '[domain-push] Bulk push to acme: completed with 2 failures (5 of 7 pushed)',
    );
    expect(subjectOf(job({ counts: { failed: 7 } }))).to.equal('[domain-push] Bulk push to acme: all 7 failed');
    expect(subjectOf(job({ status: 'cancelled', total: 20_000, counts: { pushed: 1000, cancelled: 19_000 } }))).to.equal(
      '[domain-push] Bulk push to acme: cancelled after 1,000 of 20,000 pushed',
    );
    expect(subjectOf(job({ counts: { pushed: 7 } }))).to.equal('[domain-push] Bulk push to acme: completed: all 7 pushed');
    expect(subjectOf(job({ counts: { pushed: 4, skipped: 3 } }))).to.equal(
      '[domain-push] Bulk push to acme: completed with 3 skipped (4 of 7 pushed)',
    );
    // A job that failed on an error reads as failed even when no item is marked failed.
    expect(subjectOf(job({ status: 'failed', error: 'boom', counts: { pushed: 7 } }))).to.equal(
      '[domain-push] Bulk push to acme: failed after 7 of 7 pushed',
    );
    for (const counts of [{ pushed: 5, failed: 2 }, { failed: 7 }, { pushed: 4, skipped: 3 }] as Record<string, number>[])
      expect(subjectOf(job({ counts }))).to.not.match(/job completed|\bdone\)/);
  });

  it('the summary states the outcome first and links to the job in the console (text and HTML)', () => {
    const mail = resultsEmail('ops@x.example', job({ counts: { pushed: 5, failed: 2 } }), 'Bulk push to acme', [], JOB_URL);
    expect(mail.text.split('\n')[0]).to.equal('Bulk push to acme: completed with 2 failures (5 of 7 pushed).');
    expect(mail.text).to.include(`See job ${job({}).id} in the console: ${JOB_URL}`);
    expect(mail.html).to.match(/<h1[^>]*>Bulk push to acme: completed with 2 failures \(5 of 7 pushed\)<\/h1>/);
    expect(mail.html).to.include(`<a href="${JOB_URL}" data-job-link`);
  });

  it('links use PUBLIC_URL, or http://localhost:PORT when it is unset', () => {
    expect(publicBase({ PUBLIC_URL: undefined, PORT: 3000 })).to.equal('http://localhost:3000');
    expect(publicBase({ PUBLIC_URL: 'https://push.example/', PORT: 3000 })).to.equal('https://push.example');
    expect(consoleJobUrl({ PUBLIC_URL: 'https://push.example', PORT: 1 }, 'j-1')).to.equal('https://push.example/console/queue/j-1');
    expect(claimLink({ PUBLIC_URL: undefined, PORT: 8080 }, 'claim_x')).to.equal('http://localhost:8080/v1/claims/claim_x');
  });

  it("the job link's path is a route of the console (console/src/App.tsx)", () => {
    const app = fs.readFileSync(path.resolve(__dirname, '../../console/src/App.tsx'), 'utf8');
    // The source of `path.match(/^\/queue\/…$/)`: the regex literal between "match(" and ");".
    const route = app.match(/path\.match\((\/\^\\\/queue.*\$\/)\);/)?.[1];
    expect(route, 'the job route of the console').to.be.a('string');
    const id = '3f1c2a9e-0000-4000-8000-000000000001';
    const link = new URL(consoleJobUrl({ PUBLIC_URL: 'https://push.example', PORT: 1 }, id));
    expect(link.pathname.startsWith('/console/')).to.equal(true);
    const inApp = link.pathname.slice('/console'.length);
    expect(inApp).to.match(new RegExp(route!.slice(1, -1)));
  });

  it('the gaining notice of 5,000 domains is a short summary; the CSV it names has every domain', () => {
    const received: ReceivedDomain[] = Array.from({ length: 5000 }, (_, i) => ({
      domain: `d${i}.example`,
      pushed_at: new Date('2026-01-01T00:00:02Z'),
      was_locked: i % 10 === 0,
      relocked: i % 10 === 0,
      profile: 'gain-profile',
    }));
    const summary = { count: 5000, locked: 500, relocked: 500, first: received.slice(0, 20) };
    const mail = gainingNotification('intake@acme.example', job({ total: 5000, counts: { pushed: 5000 } }), summary, JOB_URL);
    expect(mail.subject).to.equal('[domain-push] 5,000 domains received from losing');
    expect(Buffer.byteLength(mail.text)).to.be.below(10_000);
    expect(Buffer.byteLength(mail.html ?? '')).to.be.below(20_000);
    expect(mail.text).to.include('d19.example').and.not.include('d20.example');
    expect(mail.text).to.include('… and 4,980 more, see the attached CSV');
    expect(mail.text).to.include(JOB_URL).and.include('500 domains were locked at the losing side: every one is locked again.');
    // The CSV is made when the email is sent (the push kind's renderer), from every domain received.
    expect(mail.attachments).to.deep.equal([
      {
        filename: 'push-3f1c2a9e-0000-4000-8000-000000000001-received.csv',
        contentType: 'text/csv',
        render: { name: 'push-received-csv', args: { job_id: '3f1c2a9e-0000-4000-8000-000000000001' } },
      },
    ]);
    const csv = receivedCsv(received).trimEnd().split('\n');
    expect(csv[0]).to.equal('domain,pushed_at,was_locked,relocked,profile');
    expect(csv).to.have.length(5001);
    expect(csv[1]).to.equal('d0.example,2026-01-01T00:00:02.000Z,true,true,gain-profile');
  });

  it('a gaining notice says how many of the locked domains are locked again, in agreement with the number', () => {
    const text = (locked: number, relocked: number) =>
      gainingNotification(
        'intake@acme.example',
        job({ total: 3, counts: { pushed: 3 } }),
        { count: 3, locked, relocked, first: [] },
        JOB_URL,
      ).text;
    expect(text(2, 1)).to.include('2 domains were locked at the losing side: 1 is locked again.');
    expect(text(3, 2)).to.include('3 domains were locked at the losing side: 2 are locked again.');
    expect(text(1, 1)).to.include('1 domain was locked at the losing side: every one is locked again.');
  });

  it('a small gaining notice lists every domain and says so', () => {
    const one = { count: 1, locked: 0, relocked: 0, first: [{ domain: 'a.example' }] };
    const mail = gainingNotification('intake@acme.example', job({ total: 1, counts: { pushed: 1 } }), one, JOB_URL);
    expect(mail.subject).to.equal('[domain-push] 1 domain received from losing');
    expect(mail.text).to.include('  a.example').and.not.include('more');
  });
});
