import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import { parseCsvRecords } from '../helpers/csv';
import { allItems, authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { toText } from '../helpers/smtp';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/** The gaining reseller's notification email, set through its push settings. */
async function notifyAt(sys: TestSystem, gaining: TestReseller, email: string) {
  const res = await sys.http().put('/v1/push-settings/notification-email').set('Authorization', `Bearer ${gaining.key}`).send({ email });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
}

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
    await notifyAt(sys, gaining, 'intake@gaining.example');
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

/**
 * The results CSV is made by the relay when the email is sent, not in the transaction that ends
 * the job: a job reads completed as soon as its last item has its result. The relay of this system
 * runs only when the test says (relayNow), so the email can be looked at before and after.
 */
describe('the results email of a push: the job ends first, the relay makes its CSV of every item', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ config: { OUTBOX_INTERVAL_MS: 600_000, CHUNK_SIZE: 2 } });
    losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
    await notifyAt(sys, gaining, 'intake@made.example');
  });
  after(() => sys?.stop());

  const operator = (path: string) => sys.http().get(path).set('Authorization', `Bearer ${OPERATOR_KEY}`);

  it('the ended job’s emails name the CSVs to make; once sent they carry every item and every domain received, and the rows keep them', async () => {
    const mine = names('made-at-send', 3);
    await importDomains(
      sys,
      mine.map((name) => ({ name, reseller: 'losing' })),
    );
    const res = await submit(sys, losing, {
      gaining_reseller: 'gaining',
      domains: [...mine, 'nowhere.example'],
      email_results_to: 'ops@made.example',
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const id = res.body.id as string;
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');

    // Ended, its email waits with the CSV still to make: the operator sees it said so, with no bytes yet.
    const row = await sys
      .db('outbound_emails')
      .where({ dedupe_key: `results:${id}` })
      .first('id', 'sent_at');
    expect(row.sent_at).to.equal(null);
    const before = await operator(`/v1/admin/emails/${row.id}`);
    expect(before.status).to.equal(200);
    expect(before.body.attachments).to.deep.equal([
      { filename: `push-${id}-results.csv`, contentType: 'text/csv', content: '', pending: true },
    ]);
    const basic = `Basic ${Buffer.from(`ops:${OPERATOR_KEY}`).toString('base64')}`;
    const early = await sys.http().get(`/admin/emails/${row.id}/attachments/0`).set('Authorization', basic);
    expect(early.status).to.equal(404);
    expect(early.text).to.include('made when the email is sent');
    const page = await sys.http().get(`/admin/emails/${row.id}`).set('Authorization', basic);
    expect(page.text).to.include(`push-${id}-results.csv (text/csv, made when the email is sent)`);
    expect(page.text).to.not.include(`/attachments/0`);
    const notice = await sys
      .db('outbound_emails')
      .where({ dedupe_key: `gaining:${id}` })
      .first('id', 'text');
    expect(notice.text).to.include('3 domains received from reseller "losing"');
    expect((await operator(`/v1/admin/emails/${notice.id}`)).body.attachments).to.deep.equal([
      { filename: `push-${id}-received.csv`, contentType: 'text/csv', content: '', pending: true },
    ]);

    await sys.worker!.relayNow();
    const mail = await sys.smtp.waitFor((m) => toText(m) === 'ops@made.example' && (m.text ?? '').includes(`job ${id}`));
    expect(mail.attachments.map((a) => a.filename)).to.deep.equal([`push-${id}-results.csv`]);
    const csv = mail.attachments[0].content.toString('utf8');
    const items = await allItems(sys, losing, id);
    const rows = parseCsvRecords(csv);
    expect(rows.map((r) => [r.domain, r.status, r.reason])).to.deep.equal(items.map((i) => [i.domain, i.status, i.reason ?? '']));
    expect(rows.map((r) => r.status)).to.deep.equal(['pushed', 'pushed', 'pushed', 'failed']);
    expect(rows.map((r) => r.finished_at)).to.deep.equal(items.map((i) => i.finished_at));

    // The row now holds the CSV it was sent with.
    const after = await operator(`/v1/admin/emails/${row.id}`);
    expect(after.body.attachments).to.deep.equal([{ filename: `push-${id}-results.csv`, contentType: 'text/csv', content: csv }]);

    const received = await sys.smtp.waitFor((m) => toText(m) === 'intake@made.example' && (m.text ?? '').includes(`job ${id}`));
    expect(received.attachments.map((a) => a.filename)).to.deep.equal([`push-${id}-received.csv`]);
    const list = parseCsvRecords(received.attachments[0].content.toString('utf8'));
    expect(list.map((r) => r.domain)).to.deep.equal(mine);
    for (const r of list) expect(r.profile, `the gaining profile of ${r.domain}`).to.be.a('string').and.not.equal('');
    expect((await operator(`/v1/admin/emails/${notice.id}`)).body.attachments[0].content).to.equal(
      received.attachments[0].content.toString('utf8'),
    );
  });
});
