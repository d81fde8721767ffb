import { expect } from 'chai';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import {
  allItems,
  authorize,
  bodyOf,
  importDomains,
  makeReseller,
  shared,
  snapshot,
  submit,
  waitForJob,
  type BrandView,
  type DomainView,
  type ItemView,
  type JsonObject,
  type Page,
  type TestReseller,
} from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { verifyPassword } from '../../shared/platform/secrets';

describe('push rules and brands: what the gaining and losing resellers see afterwards', () => {
  let sys: TestSystem;
  let registry: ScriptedRegistry;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    // Chunks of 2 put domains that share a profile or a brand into different chunks, worked in parallel.
    sys = await startSystem({ registry: (db) => (registry = new ScriptedRegistry(db)), config: { CHUNK_SIZE: 2, WORKER_CONCURRENCY: 2 } });
    losing = await makeReseller(sys, 'losing');
    gaining = await makeReseller(sys, 'gaining');
    await makeReseller(sys, 'other'); // holds dry-foreign.example
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  /** Submits, waits for the end, and returns the job view with its items by domain. */
  async function push(body: Record<string, unknown>, who = losing) {
    const res = await submit(sys, who, { gaining_reseller: 'gaining', ...body });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, who, res.body.id);
    const items = Object.fromEntries((await allItems(sys, who, res.body.id)).map((i) => [i.domain, i]));
    return { id: res.body.id as string, job, items };
  }

  async function domainAs(who: TestReseller, name: string) {
    const res = await sys.http().get(`/v1/domains/${name}`).set('Authorization', `Bearer ${who.key}`);
    return res;
  }

  async function row(name: string) {
    return sys
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .where('d.name', name)
      .first('r.username as owner', 'd.locked', 'd.profile_id', 'd.brand_id', 'd.settings');
  }

  describe('locked domains', () => {
    before(() =>
      importDomains(sys, [
        {
          name: 'lk-skip.example',
          reseller: 'losing',
          locked: true,
          profile: { username: 'lk-owner', password: 'lk-secret-1', contact: { email: 'lk@example.org' } },
        },
        { name: 'lk-apply.example', reseller: 'losing', locked: true },
      ]),
    );

    it('when a locked domain is pushed without apply_to_locked, it is skipped and stays with the losing reseller, locked', async () => {
      const before = await row('lk-skip.example');
      const { job, items } = await push({ domains: ['lk-skip.example'], apply_to_locked: false });
      expect(job.status).to.equal('completed');
      // It was locked, and still is: the item says so (a skip is no unlock, so relocked stays false).
      expect(items['lk-skip.example']).to.include({ status: 'skipped', reason: 'locked', was_locked: true, relocked: false });
      expect(await row('lk-skip.example')).to.deep.equal(before);
      expect(before).to.include({ owner: 'losing', locked: true });
      const seen = await domainAs(losing, 'lk-skip.example');
      expect(seen.status).to.equal(200);
      expect(seen.body.locked).to.equal(true);
      expect((await domainAs(gaining, 'lk-skip.example')).status).to.equal(404);
      expect(registry.calls.filter((c) => c.domain === 'lk-skip.example')).to.deep.equal([]);
    });

    it('when a locked domain is pushed with apply_to_locked, it is unlocked, pushed and locked again for the gaining reseller', async () => {
      const { job, items } = await push({ domains: ['lk-apply.example'], apply_to_locked: true });
      expect(job.status).to.equal('completed');
      expect(items['lk-apply.example']).to.include({ status: 'pushed', reason: null, was_locked: true, relocked: true });
      expect(await row('lk-apply.example')).to.include({ owner: 'gaining', locked: true });
      const seen = await domainAs(gaining, 'lk-apply.example');
      expect(seen.status).to.equal(200);
      expect(seen.body.locked).to.equal(true);
      expect((await domainAs(losing, 'lk-apply.example')).status).to.equal(404);
      const calls = registry.calls.filter((c) => c.domain === 'lk-apply.example' && c.ok).map((c) => c.op);
      expect(calls).to.deep.equal(['unlock', 'lock']);
    });
  });

  describe('profile mode existing', () => {
    let profileId: string;
    const names = ['ex-1.example', 'ex-2.example', 'ex-3.example'];

    before(async () => {
      await importDomains(sys, [
        {
          name: names[0],
          reseller: 'losing',
          profile: { username: 'ex-old', password: 'ex-old-pass', contact: { email: 'old@example.org' } },
        },
        { name: names[1], reseller: 'losing', profile: 'ex-old' },
        { name: names[2], reseller: 'losing' },
      ]);
      const res = await sys
        .http()
        .post('/v1/profiles')
        .set('Authorization', `Bearer ${gaining.key}`)
        .send({ domain: 'gaining-home.example', username: 'gaining-main', password: 'gaining-main-pw' });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      profileId = res.body.id;
    });

    it('attaches every pushed domain to the named profile of the gaining reseller and creates no other profile', async () => {
      const profilesBefore = await sys.db('profiles').where({ reseller_id: gaining.id }).count('* as n').first();
      const { job, items } = await push({
        domains: names,
        profile: { mode: 'existing', domain: 'gaining-home.example', username: 'gaining-main', password: 'gaining-main-pw' },
      });
      expect(job.counts.pushed).to.equal(3);
      for (const n of names) expect(items[n].status).to.equal('pushed');

      const list = await sys.http().get('/v1/domains').query({ q: 'ex-', limit: 1000 }).set('Authorization', `Bearer ${gaining.key}`);
      expect(list.status).to.equal(200);
      const byName = Object.fromEntries(bodyOf<Page<DomainView>>(list).items.map((d) => [d.name, d]));
      for (const n of names) expect(byName[n].profile).to.deep.equal({ id: profileId, username: 'gaining-main' });
      const profilesAfter = await sys.db('profiles').where({ reseller_id: gaining.id }).count('* as n').first();
      expect(Number(profilesAfter!.n)).to.equal(Number(profilesBefore!.n));
    });
  });

  describe('profile mode new', () => {
    const bobContact = { first_name: 'Bob', last_name: 'Builder', email: 'bob@example.org', country: 'GB' };
    const carolContact = { first_name: 'Carol', email: 'carol@example.org', phone: '+44.2000000' };

    before(async () => {
      await importDomains(sys, [
        { name: 'nw-bob-1.example', reseller: 'losing', profile: { username: 'bob', password: 'bob-old-password', contact: bobContact } },
        { name: 'nw-bob-2.example', reseller: 'losing', profile: 'bob' },
        {
          name: 'nw-carol.example',
          reseller: 'losing',
          profile: { username: 'carol', password: 'carol-old-password', contact: carolContact },
        },
      ]);
      // The gaining reseller already has a "carol" of its own.
      const res = await sys
        .http()
        .post('/v1/profiles')
        .set('Authorization', `Bearer ${gaining.key}`)
        .send({ domain: 'carol-gaining.example', username: 'carol', password: 'gaining-carol-pw' });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
    });

    it('gives each pushed domain its own new profile with the old contact and a password that still works', async () => {
      const gainingBefore = await sys.db('profiles').where({ reseller_id: gaining.id }).select('id', 'username', 'password_hash');
      const existingIds = new Set(gainingBefore.map((p) => String(p.id)));
      const { job, items } = await push({
        domains: ['nw-bob-1.example', 'nw-carol.example', 'nw-bob-2.example'],
        profile: { mode: 'new' },
      });
      expect(job.counts.pushed).to.equal(3);
      for (const i of Object.values(items)) expect(i.status).to.equal('pushed');

      const views: Record<string, DomainView> = {};
      for (const n of ['nw-bob-1.example', 'nw-bob-2.example', 'nw-carol.example']) {
        const res = await domainAs(gaining, n);
        expect(res.status).to.equal(200);
        views[n] = res.body;
        expect(res.body.profile, n).to.not.equal(null);
        expect(existingIds.has(res.body.profile.id), `${n} got a pre-existing profile`).to.equal(false);
      }
      const ids = Object.values(views).map((v) => v.profile.id);
      expect(new Set(ids).size, 'two domains that shared one old profile get two new ones').to.equal(3);

      const rows = await sys.db('profiles').whereIn('id', ids).select('*');
      const byId = new Map(rows.map((r) => [String(r.id), r]));
      const check = async (name: string, contact: object, password: string) => {
        const p = byId.get(views[name].profile.id)!;
        expect(Number(p.reseller_id)).to.equal(gaining.id);
        expect(p.contact).to.deep.equal(contact);
        expect(await verifyPassword(password, p.password_hash), `${name}: old password verifies`).to.equal(true);
      };
      await check('nw-bob-1.example', bobContact, 'bob-old-password');
      await check('nw-bob-2.example', bobContact, 'bob-old-password');
      await check('nw-carol.example', carolContact, 'carol-old-password');

      const usernames = rows.map((r) => r.username);
      expect(new Set(usernames).size).to.equal(3);
      expect(views['nw-carol.example'].profile.username, 'collides with the gaining reseller’s own carol').to.not.equal('carol');
      // The gaining reseller's own "carol" is left as it was.
      const ownCarol = gainingBefore.find((p) => p.username === 'carol')!;
      const carolNow = await sys.db('profiles').where({ id: ownCarol.id }).first();
      expect(carolNow.password_hash).to.equal(ownCarol.password_hash);
      expect(await verifyPassword('gaining-carol-pw', carolNow.password_hash)).to.equal(true);

      const listed = await sys.http().get('/v1/profiles').query({ limit: 1000 }).set('Authorization', `Bearer ${gaining.key}`);
      expect(listed.status).to.equal(200);
      const listedUsernames = bodyOf<Page<JsonObject>>(listed).items.map((p) => p.username);
      expect(new Set(listedUsernames).size).to.equal(listedUsernames.length);
      for (const u of usernames) expect(listedUsernames).to.include(u);
    });

    it('steps aside again when the stand-in username is taken too, and leaves the gaining reseller’s profiles as they were', async () => {
      await importDomains(sys, [
        {
          name: 'nw-dave.example',
          reseller: 'losing',
          profile: { username: 'dave', password: 'dave-old-password', contact: { email: 'dave@example.org' } },
        },
      ]);
      // The gaining reseller holds both "dave" and the name a pushed dave would step aside to.
      for (const username of ['dave', 'dave-nw-dave.example']) {
        const res = await sys
          .http()
          .post('/v1/profiles')
          .set('Authorization', `Bearer ${gaining.key}`)
          .send({ domain: `${username}-own.example`, username, password: `own-${username}-pw` });
        expect(res.status, JSON.stringify(res.body)).to.equal(201);
      }
      const own = await sys
        .db('profiles')
        .where({ reseller_id: gaining.id })
        .whereIn('username', ['dave', 'dave-nw-dave.example'])
        .select('*');
      const { id, job, items } = await push({ domains: ['nw-dave.example'], profile: { mode: 'new' } });
      expect(job.counts.pushed).to.equal(1);
      expect(items['nw-dave.example'].status).to.equal('pushed');
      const seq = (await sys.db('bulk_jobs').where({ id }).first('seq')).seq;
      const view = await domainAs(gaining, 'nw-dave.example');
      expect(view.status).to.equal(200);
      expect(view.body.profile.username).to.equal(`dave-nw-dave.example-${seq}`);
      const p = await sys.db('profiles').where({ id: view.body.profile.id }).first();
      expect(await verifyPassword('dave-old-password', p.password_hash)).to.equal(true);
      const ownAfter = await sys
        .db('profiles')
        .whereIn(
          'id',
          own.map((o) => o.id),
        )
        .select('*');
      expect(ownAfter).to.deep.equal(own);
    });
  });

  describe('brands and layout', () => {
    const losingDefaults = { layout: 'losing-default', colour: 'grey' };
    const gainingDefaults = { layout: 'gaining-default', colour: 'green', logo: 'gaining.png' };
    const plainSettings = {
      users: [{ login: 'webmaster', role: 'admin' }],
      mail: { mx: ['mx1.mail.example'], forwards: { info: 'owner@example.org' } },
    };
    let redSource: BrandView;
    const redSettings = { theme: 'red', logo: 'red.png', footer: 'Red Hosting' };

    before(async () => {
      for (const [who, defaults] of [
        ['losing', losingDefaults],
        ['gaining', gainingDefaults],
      ] as const) {
        const res = await sys
          .http()
          .patch(`/v1/admin/resellers/${who}`)
          .set('Authorization', `Bearer ${OPERATOR_KEY}`)
          .send({ default_settings: defaults });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
      }
      await importDomains(sys, [
        { name: 'br-red-1.example', reseller: 'losing', brand: 'Red', settings: { users: [{ login: 'a' }] } },
        { name: 'br-red-2.example', reseller: 'losing', brand: 'Red' },
        { name: 'br-green.example', reseller: 'losing', brand: 'Green' },
        { name: 'br-none.example', reseller: 'losing', settings: plainSettings },
      ]);
      const brands = await sys.http().get('/v1/brands').set('Authorization', `Bearer ${losing.key}`);
      redSource = (brands.body as Page<BrandView>).items.find((b) => b.name === 'Red')!;
      const patched = await sys
        .http()
        .patch(`/v1/brands/${redSource.id}`)
        .set('Authorization', `Bearer ${losing.key}`)
        .send({ settings: redSettings });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    });

    // The one push these tests look at, made by whichever of them runs first.
    const brandedPushed = shared(() => push({ domains: ['br-red-1.example', 'br-green.example', 'br-red-2.example', 'br-none.example'] }));

    it('an unbranded domain shows the losing defaults before the push and the gaining defaults after, with its own settings unchanged', async () => {
      const beforePush = await domainAs(losing, 'br-none.example');
      expect(beforePush.body.layout).to.deep.equal(losingDefaults);

      const { items } = await brandedPushed();
      for (const i of Object.values(items)) expect(i.status).to.equal('pushed');

      const after = await domainAs(gaining, 'br-none.example');
      expect(after.status).to.equal(200);
      expect(after.body.brand).to.equal(null);
      expect(after.body.layout).to.deep.equal(gainingDefaults);
      expect(after.body.layout).to.not.deep.equal(losingDefaults);
      expect(after.body.settings).to.deep.equal(plainSettings);
    });

    it('a branded domain arrives with an unlabelled, read-only copy of its brand, shared by the job’s domains of that brand', async () => {
      await brandedPushed();
      const red1 = (await domainAs(gaining, 'br-red-1.example')).body;
      const red2 = (await domainAs(gaining, 'br-red-2.example')).body;
      const green = (await domainAs(gaining, 'br-green.example')).body;
      expect(red1.brand).to.include({ name: null, editable: false });
      expect(red1.brand.id).to.not.equal(redSource.id);
      expect(red2.brand.id).to.equal(red1.brand.id);
      expect(green.brand).to.include({ name: null, editable: false });
      expect(green.brand.id).to.not.equal(red1.brand.id);
      expect(red1.layout).to.deep.equal(redSettings);
      expect(red2.layout).to.deep.equal(redSettings);
      expect(red1.settings).to.deep.equal({ users: [{ login: 'a' }] });

      const gBrands = bodyOf<Page<BrandView>>(await sys.http().get('/v1/brands').set('Authorization', `Bearer ${gaining.key}`)).items;
      expect(gBrands.filter((b) => b.id === red1.brand.id)).to.have.length(1);
      expect(gBrands.find((b) => b.id === red1.brand.id)).to.include({ name: null, editable: false });
      // The losing reseller keeps its own brand as it was.
      const lBrands = bodyOf<Page<BrandView>>(await sys.http().get('/v1/brands').set('Authorization', `Bearer ${losing.key}`)).items;
      expect(lBrands.find((b) => b.id === redSource.id)).to.deep.include({ name: 'Red', editable: true, settings: redSettings });
    });

    it('editing the copied brand is refused with brand_not_editable and changes nothing; a new brand can be created and edited', async () => {
      await brandedPushed();
      const red1 = (await domainAs(gaining, 'br-red-1.example')).body;
      const before = await sys.db('brands').where({ id: red1.brand.id }).first();
      const refused = await sys
        .http()
        .patch(`/v1/brands/${red1.brand.id}`)
        .set('Authorization', `Bearer ${gaining.key}`)
        .send({ name: 'Mine now', settings: { theme: 'x' } });
      expect(refused.status).to.equal(409);
      expect(refused.body.error.code).to.equal('brand_not_editable');
      expect(await sys.db('brands').where({ id: red1.brand.id }).first()).to.deep.equal(before);
      expect((await domainAs(gaining, 'br-red-1.example')).body.layout).to.deep.equal(redSettings);

      const created = await sys
        .http()
        .post('/v1/brands')
        .set('Authorization', `Bearer ${gaining.key}`)
        .send({ name: 'Gaining Blue', settings: { theme: 'blue' } });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      expect(created.body).to.include({ name: 'Gaining Blue', editable: true });
      const edited = await sys
        .http()
        .patch(`/v1/brands/${created.body.id}`)
        .set('Authorization', `Bearer ${gaining.key}`)
        .send({ name: 'Gaining Navy', settings: { theme: 'navy' } });
      expect(edited.status, JSON.stringify(edited.body)).to.equal(200);
      expect(edited.body).to.deep.include({ name: 'Gaining Navy', settings: { theme: 'navy' }, editable: true });
    });
  });

  describe('submit variants', () => {
    it('domain_list accepts names one per line or separated by commas', async () => {
      await importDomains(
        sys,
        ['dl-a.example', 'dl-b.example', 'dl-c.example'].map((name) => ({ name, reseller: 'losing' })),
      );
      const { job, items } = await push({ domain_list: 'dl-a.example\ndl-b.example, dl-c.example' });
      expect(job.total).to.equal(3);
      expect(job.counts.pushed).to.equal(3);
      expect(Object.keys(items).sort()).to.deep.equal(['dl-a.example', 'dl-b.example', 'dl-c.example']);
      for (const n of Object.keys(items)) expect((await row(n)).owner).to.equal('gaining');
    });

    it('all_domains pushes every domain the losing reseller holds at submit time, and not one imported after', async () => {
      const whole = await makeReseller(sys, 'whole');
      await authorize(sys, gaining, whole);
      const held = ['all-1.example', 'all-2.example', 'all-3.example', 'all-4.example'];
      await importDomains(
        sys,
        held.map((name, i) => ({ name, reseller: 'whole', locked: i === 3 })),
      );
      const res = await submit(sys, whole, { gaining_reseller: 'gaining', all_domains: true, apply_to_locked: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body.total).to.equal(4);
      await importDomains(sys, [{ name: 'all-late.example', reseller: 'whole' }]);
      const job = await waitForJob(sys, whole, res.body.id);
      expect(job.counts.pushed).to.equal(4);
      const items = await allItems(sys, whole, res.body.id);
      expect(items.map((i) => i.domain).sort()).to.deep.equal(held);
      for (const n of held) expect(await row(n)).to.include({ owner: 'gaining' });
      expect(await row('all-4.example')).to.include({ locked: true });
      expect(await row('all-late.example')).to.include({ owner: 'whole' });
    });

    it('dry_run predicts each domain’s outcome and changes nothing', async () => {
      await importDomains(sys, [
        { name: 'dry-plain.example', reseller: 'losing' },
        { name: 'dry-locked.example', reseller: 'losing', locked: true },
        { name: 'dry-foreign.example', reseller: 'other' },
      ]);
      const domains = ['dry-plain.example', 'dry-locked.example', 'dry-missing.example', 'dry-foreign.example', 'DRY-PLAIN.example'];
      const before = await snapshot(sys);
      const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, dry_run: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({ dry_run: true, total: 4, duplicates_removed: 1 });
      const predicted = Object.fromEntries(bodyOf<Page<ItemView>>(res).items.map((i) => [i.domain, i]));
      expect(predicted['dry-plain.example']).to.include({ status: 'pushed', reason: null });
      expect(predicted['dry-locked.example']).to.include({ status: 'skipped', reason: 'locked' });
      expect(predicted['dry-missing.example']).to.include({ status: 'failed', reason: 'not_found' });
      expect(predicted['dry-foreign.example']).to.include({ status: 'failed', reason: 'not_owned' });
      expect(res.body.predicted).to.deep.equal({ pushed: 1, skipped: 1, failed: 2 });

      const withLocked = await submit(sys, losing, { gaining_reseller: 'gaining', domains, dry_run: true, apply_to_locked: true });
      expect(withLocked.status).to.equal(200);
      expect(bodyOf<Page<ItemView>>(withLocked).items.find((i) => i.domain === 'dry-locked.example')).to.include({ status: 'pushed' });

      expect(await snapshot(sys)).to.deep.equal(before);
      expect(await row('dry-plain.example')).to.include({ owner: 'losing' });
      expect(await row('dry-locked.example')).to.include({ owner: 'losing', locked: true });
    });

    it('the same Idempotency-Key with the same body returns the same job (200) and creates one job only', async () => {
      await importDomains(sys, [{ name: 'idem-1.example', reseller: 'losing' }]);
      const body = { gaining_reseller: 'gaining', domains: ['idem-1.example'] };
      const jobsBefore = Number((await sys.db('bulk_jobs').count('* as n').first())!.n);
      const first = await submit(sys, losing, body, { 'Idempotency-Key': 'idem-key-1' });
      expect(first.status, JSON.stringify(first.body)).to.equal(202);
      const second = await submit(sys, losing, body, { 'Idempotency-Key': 'idem-key-1' });
      expect(second.status, JSON.stringify(second.body)).to.equal(200);
      expect(second.body.id).to.equal(first.body.id);
      await waitForJob(sys, losing, first.body.id);
      const third = await submit(sys, losing, body, { 'Idempotency-Key': 'idem-key-1' });
      expect(third.status).to.equal(200);
      expect(third.body.id).to.equal(first.body.id);
      expect(third.body.status).to.equal('completed');
      expect(Number((await sys.db('bulk_jobs').where({ idempotency_key: 'idem-key-1' }).count('* as n').first())!.n)).to.equal(1);
      expect(Number((await sys.db('bulk_jobs').count('* as n').first())!.n)).to.equal(jobsBefore + 1);
      expect(Number((await sys.db('bulk_job_items').where({ job_id: first.body.id }).count('* as n').first())!.n)).to.equal(1);
    });
  });
});
