import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import { parseCsvRecords } from '../helpers/csv';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { toText } from '../helpers/smtp';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * The emails a push writes, read as their recipients get them from a real SMTP
 * peer: subjects that say the outcome, a link to the job in the console, results that reach the
 * losing side by default, and a gaining notice that stays short however many domains it carries.
 */
describe('emails of a push: outcome subjects, console links, default recipient, gaining CSV', function () {
  this.timeout(120_000);
  const PUBLIC_URL = 'https://push.example.test';
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    sys = await startSystem({ config: { PUBLIC_URL, CHUNK_SIZE: 500 } });
    losing = await makeReseller(sys, 'losing');
    gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
    const notice = await sys
      .http()
      .put('/v1/push-settings/notification-email')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ email: 'intake@gaining.example' });
    expect(notice.status, JSON.stringify(notice.body)).to.equal(200);
  });
  after(() => sys?.stop());

  const resultsOf = (id: string) => (m: ParsedMail) =>
    (m.text ?? '').includes(`job ${id}`) && (m.subject ?? '').startsWith('[domain-push] Bulk push');
  const consoleLink = (id: string) => `${PUBLIC_URL}/console/queue/${id}`;

  async function pushed(body: Record<string, unknown>) {
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', ...body });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return { id: res.body.id as string, job: await waitForJob(sys, losing, res.body.id) };
  }

  it('a push with failures says so in the subject and the first line, and links to its page in the console', async () => {
    const mine = names('mixed', 5);
    await importDomains(
      sys,
      mine.map((name) => ({ name, reseller: 'losing' })),
    );
    const { id } = await pushed({ domains: [...mine, 'nowhere-1.example', 'nowhere-2.example'], email_results_to: 'ops@results.example' });
    const mail = await sys.smtp.waitFor(resultsOf(id));
    expect(toText(mail)).to.equal('ops@results.example');
    expect(mail.subject).to.equal('[domain-push] Bulk push to gaining: completed with 2 failures (5 of 7 pushed)');
    expect(mail.text!.split('\n')[0]).to.equal('Bulk push to gaining: completed with 2 failures (5 of 7 pushed).');
    expect(mail.text).to.include(`See job ${id} in the console: ${consoleLink(id)}`);
    expect(mail.html).to.include(`href="${consoleLink(id)}"`);
    expect(String(mail.html)).to.match(/<h1[^>]*>Bulk push to gaining: completed with 2 failures \(5 of 7 pushed\)<\/h1>/);
  });

  it('a push whose every item failed reads "all N failed", never completed', async () => {
    const { id, job } = await pushed({ domains: names('ghost', 3), email_results_to: 'ops@results.example' });
    expect(job.status).to.equal('completed');
    const mail = await sys.smtp.waitFor(resultsOf(id));
    expect(mail.subject).to.equal('[domain-push] Bulk push to gaining: all 3 failed');
    expect(mail.text!.split('\n')[0]).to.equal('Bulk push to gaining: all 3 failed.');
  });

  it('the results go to the losing reseller by default, to the address given, or nowhere with null', async () => {
    const [a, b, c] = [names('default-to', 1), names('given-to', 1), names('null-to', 1)];
    await importDomains(
      sys,
      [...a, ...b, ...c].map((name) => ({ name, reseller: 'losing' })),
    );
    const omitted = await pushed({ domains: a });
    const given = await pushed({ domains: b, email_results_to: 'someone@else.example' });
    const none = await pushed({ domains: c, email_results_to: null });

    expect(toText(await sys.smtp.waitFor(resultsOf(omitted.id)))).to.equal('ops@losing.example');
    expect(toText(await sys.smtp.waitFor(resultsOf(given.id)))).to.equal('someone@else.example');
    // The gaining notice of the null job is written in the same transaction as its (absent) results
    // email: once it arrived, a results email would have too.
    await sys.smtp.waitFor((m) => toText(m) === 'intake@gaining.example' && (m.text ?? '').includes(`job ${none.id}`));
    const unsent = await sys.db('outbound_emails').where('dedupe_key', `results:${none.id}`).first('id');
    expect(unsent).to.equal(undefined);
    expect(sys.smtp.messages.filter(resultsOf(none.id))).to.have.length(0);
  });

  it('the gaining notice of 3,000 domains is short, links to the job, and attaches every domain as CSV', async () => {
    const many = names('bulk', 3000);
    await importDomains(
      sys,
      many.map((name, i) => ({ name, reseller: 'losing', locked: i % 100 === 0 })),
    );
    const { id, job } = await pushed({ domains: many, apply_to_locked: true, email_results_to: null });
    expect(job.counts.pushed).to.equal(3000);
    const mail = await sys.smtp.waitFor((m) => toText(m) === 'intake@gaining.example' && (m.text ?? '').includes(`job ${id}`));
    expect(mail.subject).to.equal('[domain-push] 3,000 domains received from losing');
    expect(Buffer.byteLength(mail.text ?? '')).to.be.below(10_000);
    expect(Buffer.byteLength(String(mail.html))).to.be.below(20_000);
    expect(mail.text).to.include(`See job ${id} in the console: ${consoleLink(id)}`);
    expect(mail.text).to.include('… and 2,980 more, see the attached CSV');
    expect(mail.text).to.include('30 domains were locked at the losing side: every one is locked again.');
    expect(mail.html).to.include(`href="${consoleLink(id)}"`);

    expect(mail.attachments).to.have.length(1);
    const att = mail.attachments[0];
    expect(att.contentType).to.match(/^text\/csv/);
    expect(att.filename).to.equal(`push-${id}-received.csv`);
    const rows = parseCsvRecords(att.content.toString('utf8'));
    expect(rows.map((r) => r.domain).sort()).to.deep.equal([...many].sort());
    const first = rows.find((r) => r.domain === many[0])!;
    expect(first).to.include({ was_locked: 'true', relocked: 'true' });
    expect(first.profile, 'the registrant profile the domain now has').to.be.a('string').and.not.equal('');
    expect(rows.find((r) => r.domain === many[1])).to.include({ was_locked: 'false' });
  });
});
