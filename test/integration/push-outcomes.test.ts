import { expect } from 'chai';
import { allItems, authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { toText } from '../helpers/smtp';

describe('bulk push outcomes (real Postgres, Redis, SMTP, HTTP)', () => {
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    sys = await startSystem();
    losing = await makeReseller(sys, 'losing');
    gaining = await makeReseller(sys, 'gaining');
    await makeReseller(sys, 'other'); // holds a domain the losing side does not own
    await authorize(sys, gaining, losing);
    await sys
      .http()
      .put('/v1/push-settings/notification-email')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ email: 'incoming@gaining.example' });
    await importDomains(sys, [
      {
        name: 'plain-one.example',
        reseller: 'losing',
        profile: { username: 'alice', password: 'alice-secret', contact: { email: 'alice@example.org' } },
      },
      { name: 'plain-two.example', reseller: 'losing', profile: 'alice' },
      { name: 'locked-skip.example', reseller: 'losing', locked: true },
      { name: 'branded-a.example', reseller: 'losing', brand: 'Blue' },
      { name: 'branded-b.example', reseller: 'losing', brand: 'Blue' },
      { name: 'someone-elses.example', reseller: 'other' },
    ]);
  });
  after(() => sys?.stop());

  it('pushes owned domains, skips locked ones, fails unknown and foreign ones, and reports each', async () => {
    const res = await submit(sys, losing, {
      gaining_reseller: 'gaining',
      domains: [
        'plain-one.example',
        'PLAIN-TWO.example.',
        'locked-skip.example',
        'missing.example',
        'someone-elses.example',
        'branded-a.example',
        'branded-b.example',
        'plain-one.example',
      ],
      profile: { mode: 'new' },
      email_results_to: 'ops@losing.example',
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body).to.include({ status: 'queued', total: 7, duplicates_removed: 1 });
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.deep.equal({ pending: 0, running: 0, pushed: 4, skipped: 1, failed: 2, cancelled: 0 });

    const items = Object.fromEntries((await allItems(sys, losing, res.body.id)).map((i) => [i.domain, i]));
    expect(items['plain-two.example']).to.include({ status: 'pushed', reason: null });
    expect(items['locked-skip.example']).to.include({ status: 'skipped', reason: 'locked' });
    expect(items['missing.example']).to.include({ status: 'failed', reason: 'not_found' });
    expect(items['someone-elses.example']).to.include({ status: 'failed', reason: 'not_owned' });

    const owner = async (name: string) =>
      (await sys
        .db('domains as d')
        .join('resellers as r', 'r.id', 'd.reseller_id')
        .where('d.name', name)
        .first('r.username', 'd.locked')) as { username: string; locked: boolean };
    expect((await owner('plain-one.example')).username).to.equal('gaining');
    expect(await owner('locked-skip.example')).to.deep.equal({ username: 'losing', locked: true });
    expect((await owner('someone-elses.example')).username).to.equal('other');

    const mail = await sys.smtp.waitFor((m) => m.subject?.includes('Bulk push to gaining') ?? false);
    expect(mail.subject).to.equal('[domain-push] Bulk push to gaining: completed with 2 failures and 1 skipped (4 of 7 pushed)');
    expect(mail.attachments).to.have.length(1);
    const gainMail = await sys.smtp.waitFor((m) => toText(m) === 'incoming@gaining.example');
    expect(gainMail.text).to.include('branded-a.example').and.include('losing');
  });
});
