import { expect } from 'chai';
import { authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * The naming rule of a push with `profile: { mode: 'new' }`, read as a table. The rule lives in
 * SQL owned by the catalog (shared/catalog/profiles.ts, newProfilesSql and createProfilesForDomains,
 * which the push calls), so it is documented here, end to end, rather than by a pure function the
 * SQL could not use:
 *
 *   1. the old username, when it is free at the gaining reseller and no other domain of the chunk
 *      brings the same username;
 *   2. otherwise `<username>-<domain>` (`registrant-<domain>` for a domain without a profile);
 *   3. when that is taken too, `<username>-<domain>-<job seq>`.
 */
describe('naming of new profiles: which username a pushed domain’s new profile gets', () => {
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;
  const profile = (username: string) => ({ username, password: `${username}-old-password`, contact: { email: `${username}@example.org` } });

  before(async () => {
    sys = await startSystem({ config: { CHUNK_SIZE: 100 } });
    losing = await makeReseller(sys, 'pn-losing');
    gaining = await makeReseller(sys, 'pn-gaining');
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  async function ownProfile(username: string) {
    const res = await sys
      .http()
      .post('/v1/profiles')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ domain: `own-${username}.example`, username, password: `own-${username}-pw` });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  }

  /** Pushes `domains` in one job and returns the new profile's username of each, as the gaining reseller sees it. */
  async function pushNew(domains: string[]) {
    const res = await submit(sys, losing, { gaining_reseller: 'pn-gaining', domains, profile: { mode: 'new' } });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.counts.pushed, JSON.stringify(job.counts)).to.equal(domains.length);
    const usernames: Record<string, string> = {};
    for (const name of domains) {
      const view = await sys.http().get(`/v1/domains/${name}`).set('Authorization', `Bearer ${gaining.key}`);
      expect(view.status, name).to.equal(200);
      usernames[name] = view.body.profile.username;
    }
    const { seq } = await sys.db('bulk_jobs').where({ id: res.body.id }).first('seq');
    return { usernames, seq: Number(seq) };
  }

  it('a free username is kept; a taken one, or one two domains of the chunk share, becomes `username-domain`', async () => {
    await importDomains(sys, [
      { name: 'pn-alice.example', reseller: 'pn-losing', profile: profile('alice') },
      { name: 'pn-carol.example', reseller: 'pn-losing', profile: profile('carol') },
      { name: 'pn-bob-1.example', reseller: 'pn-losing', profile: profile('bob') },
      { name: 'pn-bob-2.example', reseller: 'pn-losing', profile: 'bob' },
    ]);
    await ownProfile('carol');
    const { usernames } = await pushNew(['pn-alice.example', 'pn-carol.example', 'pn-bob-1.example', 'pn-bob-2.example']);
    expect(usernames).to.deep.equal({
      'pn-alice.example': 'alice', // free at the gaining reseller: kept
      'pn-carol.example': 'carol-pn-carol.example', // the gaining reseller has its own carol
      'pn-bob-1.example': 'bob-pn-bob-1.example', // two domains of the job bring bob: neither takes it
      'pn-bob-2.example': 'bob-pn-bob-2.example',
    });
  });

  it('a domain without a profile gets `registrant-domain`', async () => {
    await importDomains(sys, [{ name: 'pn-bare.example', reseller: 'pn-losing' }]);
    const { usernames } = await pushNew(['pn-bare.example']);
    expect(usernames).to.deep.equal({ 'pn-bare.example': 'registrant-pn-bare.example' });
  });

  it('when `username-domain` is taken too, the job’s sequence number is appended: `username-domain-<seq>`', async () => {
    await importDomains(sys, [{ name: 'pn-dave.example', reseller: 'pn-losing', profile: profile('dave') }]);
    await ownProfile('dave');
    await ownProfile('dave-pn-dave.example');
    const { usernames, seq } = await pushNew(['pn-dave.example']);
    expect(usernames).to.deep.equal({ 'pn-dave.example': `dave-pn-dave.example-${seq}` });
  });
});
