import { expect } from 'chai';
import { startSystem, type TestSystem } from '../helpers/system';
import { allItems, authorize, importDomains, makeReseller, snapshot, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { parseCsv } from '../helpers/csv';

/**
 * skip_invalid end to end: the valid names of a pasted list move, and each invalid entry is a
 * finished `skipped`/`invalid_domain` item naming its line, in the items list, the CSV and the
 * results email; without the flag the same list is refused and nothing is written.
 */
describe('skip_invalid: the valid names move, the invalid lines are listed as skipped', () => {
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ config: { CHUNK_SIZE: 2 } });
    losing = await makeReseller(sys, 'si-losing');
    const gaining = await makeReseller(sys, 'si-gaining');
    await authorize(sys, gaining, losing);
    await importDomains(
      sys,
      ['si-1.example', 'si-2.example', 'si-3.example', 'si-4.example'].map((name) => ({ name, reseller: 'si-losing' })),
    );
  });
  after(() => sys?.stop());

  const owner = async (name: string) =>
    (await sys.db('domains as d').join('resellers as r', 'r.id', 'd.reseller_id').where('d.name', name).first('r.username as u'))?.u;

  // Lines 2, 4 (second entry) and 7 are not names; line 5 is blank.
  const list = 'si-1.example\nfoo..bar\nSI-2.example.\nsi-3.example, nodot\n\nsi-4.example\nhttps://si-5.example\n';
  const skipped = [
    { line: 2, value: 'foo..bar', reason: 'label "" is not valid' },
    { line: 4, value: 'nodot', reason: 'needs at least two labels (name.tld)' },
    { line: 7, value: 'https://si-5.example', reason: 'contains characters not allowed in a domain name' },
  ];
  const valid = ['si-1.example', 'si-2.example', 'si-3.example', 'si-4.example'];

  it('a dry run predicts the invalid entries as skipped invalid_domain, each with its line, and changes nothing', async () => {
    const before = await snapshot(sys);
    const res = await submit(sys, losing, { gaining_reseller: 'si-gaining', domain_list: list, skip_invalid: true, dry_run: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.total).to.equal(7);
    expect(res.body.predicted).to.deep.equal({ pushed: 4, skipped: 3, failed: 0 });
    const bad = res.body.items.filter((i: { reason: string }) => i.reason === 'invalid_domain');
    expect(bad.map((i: { domain: string; line: number; status: string }) => [i.domain, i.line, i.status])).to.deep.equal(
      skipped.map((s) => [s.value, s.line, 'skipped']),
    );
    expect(bad[0].message).to.equal('line 2: "foo..bar" is not a valid domain name (label "" is not valid)');
    expect(await snapshot(sys)).to.deep.equal(before);
  });

  it('without skip_invalid the same list is refused by line, and nothing is written', async () => {
    const before = await snapshot(sys);
    const res = await submit(sys, losing, { gaining_reseller: 'si-gaining', domain_list: list });
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal('invalid_domains');
    expect(res.body.error.details.invalid.map((i: { line: number; value: string }) => [i.line, i.value])).to.deep.equal(
      skipped.map((s) => [s.line, s.value]),
    );
    expect(res.body.error.message).to.equal(
      '3 domain name(s) are not valid (line 2: "foo..bar", line 4: "nodot", line 7: "https://si-5.example").',
    );
    expect(await snapshot(sys)).to.deep.equal(before);
  });

  it('skip_invalid with no valid name at all is still refused (nothing would move)', async () => {
    const before = await snapshot(sys);
    const res = await submit(sys, losing, { gaining_reseller: 'si-gaining', domain_list: 'foo..bar\nnodot', skip_invalid: true });
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal('invalid_domains');
    expect(await snapshot(sys)).to.deep.equal(before);
  });

  it('pushes the valid names; the items list, the CSV and the results email show each skipped line', async () => {
    const res = await submit(sys, losing, { gaining_reseller: 'si-gaining', domain_list: list, skip_invalid: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.total).to.equal(7);
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.deep.include({ pushed: 4, skipped: 3 });
    expect((job as unknown as { outcome: string }).outcome).to.equal('partly_skipped');
    expect((job as unknown as { options: { skip_invalid?: boolean } }).options.skip_invalid).to.equal(true);
    for (const name of valid) expect(await owner(name), name).to.equal('si-gaining');

    const items = await allItems(sys, losing, res.body.id);
    expect(items).to.have.length(7);
    expect(items.filter((i) => i.status === 'pushed').map((i) => i.domain)).to.have.members(valid);
    const bad = items.filter((i) => i.reason === 'invalid_domain');
    expect(bad.map((i) => [i.domain, i.status, i.message])).to.deep.equal(
      skipped.map((s) => [s.value, 'skipped', `line ${s.line}: "${s.value}" is not a valid domain name (${s.reason})`]),
    );
    for (const i of bad) expect(i.finished_at, i.domain).to.be.a('string');

    // Filtered by reason, as the job page does.
    const byReason = await sys
      .http()
      .get(`/v1/jobs/${res.body.id}/items`)
      .query({ reason: 'invalid_domain' })
      .set('Authorization', `Bearer ${losing.key}`);
    expect(byReason.status).to.equal(200);
    expect(byReason.body.items.map((i: { domain: string }) => i.domain)).to.deep.equal(skipped.map((s) => s.value));

    const csv = await sys
      .http()
      .get(`/v1/jobs/${res.body.id}/items`)
      .set('Authorization', `Bearer ${losing.key}`)
      .set('Accept', 'text/csv');
    expect(csv.status).to.equal(200);
    const rows = parseCsv(csv.text);
    const [header] = rows;
    const col = (name: string) => header.indexOf(name);
    for (const s of skipped) {
      const row = rows.find((r) => r[col('domain')] === s.value);
      expect(row, s.value).to.not.equal(undefined);
      expect(row![col('status')]).to.equal('skipped');
      expect(row![col('reason')]).to.equal('invalid_domain');
      expect(row![col('message')]).to.match(new RegExp(`^line ${s.line}: "`));
    }

    const mail = await sys.smtp.waitFor((m) => !!m.attachments?.some((a) => a.filename?.includes(res.body.id)));
    const attached = parseCsv(mail.attachments[0].content.toString());
    for (const s of skipped)
      expect(
        attached.some((r) => r[0] === s.value && r.includes('invalid_domain') && r.some((c) => c.startsWith(`line ${s.line}: `))),
      ).to.equal(true);
    // The email's table of items that did not move names the line too.
    expect(String(mail.html)).to.include('line 2: ');

    // Nothing ever enqueues the skipped items' chunk: the reconciler finds nothing to requeue.
    await sys.worker!.reconcileNow();
    expect((await waitForJob(sys, losing, res.body.id)).counts).to.deep.include({ pushed: 4, skipped: 3 });
  });

  it('a job waiting in its grace window shows the skipped lines at once; a cancel ends the rest and leaves them skipped', async () => {
    await importDomains(sys, [{ name: 'si-wait.example', reseller: 'si-losing' }]);
    const res = await submit(sys, losing, {
      gaining_reseller: 'si-gaining',
      domain_list: 'si-wait.example\nbad..one',
      skip_invalid: true,
      start_after_seconds: 3600,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.status).to.equal('scheduled');
    const waiting = await sys.http().get(`/v1/jobs/${res.body.id}`).set('Authorization', `Bearer ${losing.key}`);
    expect(waiting.body.counts).to.deep.include({ pending: 1, skipped: 1 });
    const cancel = await sys.http().post(`/v1/jobs/${res.body.id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(cancel.status, JSON.stringify(cancel.body)).to.be.oneOf([200, 202]);
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('cancelled');
    const items = await allItems(sys, losing, res.body.id);
    expect(items.map((i) => [i.domain, i.status, i.reason])).to.have.deep.members([
      ['si-wait.example', 'cancelled', items.find((i) => i.domain === 'si-wait.example')!.reason],
      ['bad..one', 'skipped', 'invalid_domain'],
    ]);
    expect(await owner('si-wait.example')).to.equal('si-losing');
  });
});
