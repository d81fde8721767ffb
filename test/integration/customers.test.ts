import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import type { Response } from 'supertest';
import { processChunk } from '../../shared/bulk/process';
import { hashSecret } from '../../shared/platform/secrets';
import {
  allItems,
  authorize,
  bodyOf,
  importDomains,
  makeReseller,
  names,
  shared,
  snapshot,
  submit,
  waitForJob,
  type JsonObject,
  type Page,
  type TestReseller,
} from '../helpers/fixtures';
import { toText } from '../helpers/smtp';
import { waitUntil } from '../helpers/wait';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

const auth = (who: TestReseller) => ({ Authorization: `Bearer ${who.key}` });

function api(sys: TestSystem, who: TestReseller) {
  const h = () => sys.http();
  return {
    createCustomer: (body: Record<string, unknown>) => h().post('/v1/customers').set(auth(who)).send(body),
    customer: (id: string) => h().get(`/v1/customers/${id}`).set(auth(who)),
    createPackage: (cid: string, name: string) => h().post(`/v1/customers/${cid}/packages`).set(auth(who)).send({ name }),
    packages: (cid: string) => h().get(`/v1/customers/${cid}/packages`).set(auth(who)),
    addDomain: (cid: string, pid: string, body: Record<string, unknown>) =>
      h().post(`/v1/customers/${cid}/packages/${pid}/domains`).set(auth(who)).send(body),
    removeDomain: (cid: string, pid: string, domain: string) =>
      h().delete(`/v1/customers/${cid}/packages/${pid}/domains/${domain}`).set(auth(who)),
    release: (cid: string) => h().post(`/v1/customers/${cid}/release`).set(auth(who)),
    domain: (name: string) => h().get(`/v1/domains/${name}`).set(auth(who)),
    setContact: (name: string, contact: Record<string, unknown>) => h().put(`/v1/domains/${name}/contact`).set(auth(who)).send(contact),
  };
}

async function newCustomer(sys: TestSystem, who: TestReseller, body: Record<string, unknown>): Promise<string> {
  const res = await api(sys, who).createCustomer(body);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id;
}

async function newPackage(sys: TestSystem, who: TestReseller, cid: string, name: string): Promise<string> {
  const res = await api(sys, who).createPackage(cid, name);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id;
}

/** The domain names in the first package of a package list. */
function packageDomains(res: Response): string[] {
  return bodyOf<Page<{ domains: { domain: string }[] }>>(res).items[0].domains.map((d) => d.domain);
}

async function released(sys: TestSystem, who: TestReseller, cid: string) {
  const res = await api(sys, who).release(cid);
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return { accepted: res.body, job: await waitForJob(sys, who, res.body.id) };
}

function claimToken(mail: ParsedMail): string {
  const m = mail.text?.match(/\/v1\/claims\/(claim_[A-Za-z0-9_-]+)/);
  expect(m, mail.text).to.not.equal(null);
  return m![1];
}

const mailTo = (address: string) => (m: ParsedMail) => toText(m).toLowerCase() === address;

/** Everything a refused request must leave alone, including the customer tables. */
async function state(sys: TestSystem) {
  const rows = async (t: string) => sys.db(t).orderBy('id').select('*');
  return {
    ...(await snapshot(sys)),
    customers: await rows('customers'),
    service_packages: await rows('service_packages'),
    package_domains: await rows('package_domains'),
    claim_tokens: await rows('claim_tokens'),
    customer_accounts: await rows('customer_accounts'),
    domainCustomers: await sys.db('domains').orderBy('id').select('name', 'customer_id'),
  };
}

describe('customers: release with all products, claim invitation, service packages', () => {
  let sys: TestSystem;
  let acme: TestReseller;
  let gaining: TestReseller;
  let other: TestReseller;
  let ada: string;
  const adaDomains = names('ada', 500);

  before(async () => {
    sys = await startSystem();
    acme = await makeReseller(sys, 'acme');
    gaining = await makeReseller(sys, 'gaining');
    other = await makeReseller(sys, 'other');
    await authorize(sys, gaining, acme);
    ada = await newCustomer(sys, acme, {
      name: 'Ada Lovelace',
      email: 'Ada@Customer.example',
      phone: '+44 20 0000',
      address: '1 Analytical Row',
      country: 'GB',
    });
    await importDomains(sys, [
      // One profile shared by a domain of Ada and a domain acme keeps.
      {
        name: 'kept.example',
        reseller: 'acme',
        profile: { username: 'shared', password: 'shared-secret', contact: { email: 'shared@acme.example' } },
      },
      ...adaDomains.map((name, i) => ({
        name,
        reseller: 'acme',
        customer: ada,
        locked: i % 7 === 0,
        ...(i === 0 ? { profile: 'shared' } : {}),
      })),
      { name: 'someone-elses.example', reseller: 'other' },
    ]);
  });
  after(() => sys?.stop());

  /** Ada's three packages and her release: arranged by whichever test needs them first. */
  const adaReleased = shared(async () => {
    const a = api(sys, acme);
    const web = await newPackage(sys, acme, ada, 'Web');
    const mail = await newPackage(sys, acme, ada, 'Mail');
    await newPackage(sys, acme, ada, 'Empty');
    for (const d of adaDomains.slice(0, 3)) expect((await a.addDomain(ada, web, { domain: d })).status).to.equal(201);
    expect((await a.addDomain(ada, web, { domain: 'Elsewhere.Example', virtual: true })).status).to.equal(201);
    expect((await a.addDomain(ada, mail, { domain: adaDomains[3] })).status).to.equal(201);
    const before = await a.customer(ada);
    return { before: bodyOf<JsonObject>(before), ...(await released(sys, acme, ada)) };
  });
  /** The claim invitation Ada gets once released, and the token in its link. */
  const adaInvite = shared(async () => {
    await adaReleased();
    const mail = await sys.smtp.waitFor(mailTo('ada@customer.example'));
    return { mail, token: claimToken(mail) };
  });
  /** Ada claims her products with a new account. */
  const adaClaimed = shared(async () => {
    const { token } = await adaInvite();
    return sys.http().post(`/v1/claims/${token}`).send({ choice: 'new_account' });
  });

  it('when a customer with 500 domains and 3 packages is released, every product is released in one release job', async () => {
    const { before, accepted, job } = await adaReleased();
    expect(before).to.include({ status: 'active', domains: 500, packages: 3 });
    expect(accepted).to.include({ status: 'queued', total: 503, domains: 500, packages: 3 });
    expect(accepted.links.self).to.equal(`/v1/jobs/${accepted.id}`);
    expect(job).to.include({ kind: 'release', status: 'completed', total: 503, losing_reseller: 'acme', gaining_reseller: null });
    expect(job.counts).to.deep.equal({ pending: 0, running: 0, released: 503, skipped: 0, failed: 0, cancelled: 0 });
    const items = await allItems(sys, acme, accepted.id);
    expect(items).to.have.length(503);
    expect(items.every((i) => i.status === 'released')).to.equal(true);
    expect(items.filter((i) => i.product === 'package')).to.have.length(3);
    expect(
      items
        .filter((i) => i.product === 'domain')
        .map((i) => i.domain)
        .sort(),
    ).to.deep.equal([...adaDomains].sort());
  });

  it("after a release the reseller no longer sees or controls the customer's products", async () => {
    const { accepted } = await adaReleased();
    const a = api(sys, acme);
    expect((await a.domain(adaDomains[0])).status).to.equal(404);
    expect((await a.domain(adaDomains[499])).status).to.equal(404);
    expect((await a.setContact(adaDomains[0], { email: 'hijack@acme.example' })).status).to.equal(404);
    const list = await sys.http().get('/v1/domains').query({ limit: 1000 }).set(auth(acme));
    expect(bodyOf<Page<JsonObject>>(list).items.map((d) => d.name)).to.deep.equal(['kept.example']);
    expect((await a.packages(ada)).body.items).to.deep.equal([]);
    const after = await a.customer(ada);
    expect(after.body).to.include({ status: 'released', domains: 0, packages: 0 });
    expect(after.body.released_at).to.be.a('string');
    expect(after.body.last_release).to.include({ id: accepted.id, status: 'completed' });
  });

  it('released domains keep their customer and their lock, and belong to no reseller', async () => {
    await adaReleased();
    const rows = await sys.db('domains').whereIn('name', adaDomains).select('reseller_id', 'customer_id', 'locked', 'profile_id');
    expect(rows.every((r) => r.reseller_id === null && String(r.customer_id) === ada && r.profile_id === null)).to.equal(true);
    expect(rows.filter((r) => r.locked)).to.have.length(adaDomains.filter((_, i) => i % 7 === 0).length);
  });

  it('editing the profile a released domain used to share reaches only the domain the reseller kept', async () => {
    await adaReleased();
    const kept = await api(sys, acme).setContact('kept.example', { email: 'new@acme.example', first_name: 'Kept' });
    expect(kept.status, JSON.stringify(kept.body)).to.equal(200);
    expect(kept.body.profile.contact).to.deep.equal({ email: 'new@acme.example', first_name: 'Kept' });
    expect((await sys.db('domains').where({ name: adaDomains[0] }).first()).profile_id).to.equal(null);
  });

  it("the claim invitation reaches the customer's contact email with a single-use link, stored only hashed", async () => {
    const { mail: invite, token } = await adaInvite();
    expect(invite.subject).to.include('Claim your account');
    expect(invite.text).to.include('open this link in your browser').and.not.include('POST');
    expect(invite.text).to.include('create a new account').and.include('import').and.include('change of owner').and.include('expires');
    expect(invite.text).to.include('500 domains, 3 service packages').and.include('package: Web');
    const stored = await sys.db('claim_tokens').where({ customer_id: ada }).select('token_hash', 'expires_at', 'used_at');
    expect(stored).to.have.length(1);
    expect(stored[0].token_hash).to.equal(hashSecret(token)).and.not.include(token);
    expect(invite.text).to.include(new Date(stored[0].expires_at).toISOString());
  });

  it("once the invitation is sent, neither its outbox row nor the operator's view holds the token", async () => {
    const { token } = await adaInvite();
    const row = await waitUntil(() => sys.db('outbound_emails').where('dedupe_key', 'like', 'claim:%').whereNotNull('sent_at').first(), {
      interval: 50,
      label: 'the claim email to be marked sent',
    });
    expect(JSON.stringify(row)).to.not.include(token);
    const adminView = await sys.http().get(`/v1/admin/emails/${row.id}`).set('Authorization', `Bearer ${OPERATOR_KEY}`);
    expect(adminView.status).to.equal(200);
    expect(JSON.stringify(adminView.body)).to.not.include(token);
  });

  it('the claim link shows the products the customer gets', async () => {
    const { token } = await adaInvite();
    const info = await sys.http().get(`/v1/claims/${token}`);
    expect(info.status, JSON.stringify(info.body)).to.equal(200);
    expect(info.body.products).to.deep.equal({ domains: 500, packages: 3 });
  });

  it('an import claim with an email other than the contact email is refused with contact_mismatch', async () => {
    const { token } = await adaInvite();
    const mismatch = await sys.http().post(`/v1/claims/${token}`).send({ choice: 'import', email: 'someone@else.example' });
    expect(mismatch.status).to.equal(422);
    expect(mismatch.body.error.code).to.equal('contact_mismatch');
  });

  it('claiming with new_account creates an account that holds the released products', async () => {
    const claimed = await adaClaimed();
    expect(claimed.status, JSON.stringify(claimed.body)).to.equal(201);
    expect(claimed.body.account).to.include({ email: 'ada@customer.example', mode: 'new_account' });
    expect(claimed.body.customer).to.include({ id: ada, status: 'released' });
    expect(claimed.body.products).to.deep.equal({ domains: 500, packages: 3 });
  });

  it('a used claim link answers 410 token_used and creates no second account; an unknown one is 404', async () => {
    const { token } = await adaInvite();
    expect((await adaClaimed()).status).to.equal(201);
    const again = await sys.http().post(`/v1/claims/${token}`).send({ choice: 'new_account' });
    expect(again.status).to.equal(410);
    expect(again.body.error.code).to.equal('token_used');
    expect((await sys.http().get(`/v1/claims/${token}`)).status).to.equal(410);
    expect((await sys.http().post('/v1/claims/claim_unknown').send({ choice: 'new_account' })).status).to.equal(404);
    expect(await sys.db('customer_accounts').where({ customer_id: ada }).count('* as n').first()).to.deep.equal({ n: 1 });
  });

  it("when a released customer's domain is pushed, that item fails with not_owned", async () => {
    await adaReleased();
    const res = await submit(sys, acme, { gaining_reseller: 'gaining', domains: [adaDomains[10], 'kept.example'] });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, acme, res.body.id);
    expect(job.counts).to.include({ pushed: 1, failed: 1 });
    const items = Object.fromEntries((await allItems(sys, acme, res.body.id)).map((i) => [i.domain, i]));
    expect(items[adaDomains[10]]).to.include({ status: 'failed', reason: 'not_owned' });
    const row = await sys.db('domains').where({ name: adaDomains[10] }).first();
    expect(row.reseller_id).to.equal(null);
  });

  it('when a claim link has expired it answers 410 token_expired and creates no account', async () => {
    const bob = await newCustomer(sys, acme, { name: 'Bob', email: 'bob@customer.example' });
    await importDomains(
      sys,
      names('bob', 2).map((name) => ({ name, reseller: 'acme', customer: bob })),
    );
    const { job } = await released(sys, acme, bob);
    expect(job.counts.released).to.equal(2);
    const token = claimToken(await sys.smtp.waitFor(mailTo('bob@customer.example')));
    await sys
      .db('claim_tokens')
      .where({ token_hash: hashSecret(token) })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const res = await sys.http().post(`/v1/claims/${token}`).send({ choice: 'new_account' });
    expect(res.status).to.equal(410);
    expect(res.body.error.code).to.equal('token_expired');
    expect(await sys.db('customer_accounts').where({ customer_id: bob }).first()).to.equal(undefined);
  });

  it('when the customer imports into an existing account with the matching contact email, the account is linked', async () => {
    const carol = await newCustomer(sys, acme, { name: 'Carol', email: 'carol@customer.example' });
    const { job } = await released(sys, acme, carol);
    expect(job).to.include({ status: 'completed', total: 0 });
    const token = claimToken(await sys.smtp.waitFor(mailTo('carol@customer.example')));
    const res = await sys.http().post(`/v1/claims/${token}`).send({ choice: 'import', email: 'CAROL@customer.example' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.account).to.include({ email: 'carol@customer.example', mode: 'import' });
  });

  it('assigns registered and virtual domains to packages and removes them', async () => {
    const dora = await newCustomer(sys, acme, { name: 'Dora', email: 'dora@customer.example' });
    await importDomains(sys, [{ name: 'dora-one.example', reseller: 'acme', customer: dora }]);
    const pkg = await newPackage(sys, acme, dora, 'Site');
    const a = api(sys, acme);
    const added = await a.addDomain(dora, pkg, { domain: 'DORA-ONE.example' });
    expect(added.status, JSON.stringify(added.body)).to.equal(201);
    expect(added.body).to.include({ domain: 'dora-one.example', virtual: false });
    expect((await a.addDomain(dora, pkg, { domain: 'dora-elsewhere.example', virtual: true })).body).to.include({ virtual: true });
    const listed = await a.packages(dora);
    expect(packageDomains(listed)).to.deep.equal(['dora-one.example', 'dora-elsewhere.example']);
    expect((await a.removeDomain(dora, pkg, 'dora-one.example')).status).to.equal(204);
    expect((await a.removeDomain(dora, pkg, 'dora-one.example')).status).to.equal(404);
    expect(packageDomains(await a.packages(dora))).to.deep.equal(['dora-elsewhere.example']);
  });

  it("when a customer's domain is pushed to another reseller, it leaves that customer and its package", async () => {
    const gus = await newCustomer(sys, acme, { name: 'Gus', email: 'gus@customer.example' });
    await importDomains(sys, [{ name: 'gus-one.example', reseller: 'acme', customer: gus }]);
    const pkg = await newPackage(sys, acme, gus, 'Shop');
    const a = api(sys, acme);
    expect((await a.addDomain(gus, pkg, { domain: 'gus-one.example' })).status).to.equal(201);
    const res = await submit(sys, acme, { gaining_reseller: 'gaining', domains: ['gus-one.example'] });
    expect((await waitForJob(sys, acme, res.body.id)).counts.pushed).to.equal(1);
    const row = await sys.db('domains').where({ name: 'gus-one.example' }).first();
    expect(Number(row.reseller_id)).to.equal(gaining.id);
    expect(row.customer_id).to.equal(null);
    expect((await a.packages(gus)).body.items[0].domains).to.deep.equal([]);
  });

  describe('refusals change nothing', () => {
    let eve: string;
    let frank: string;
    let evePkg: string;
    let eveOther: string;
    let otherCustomer: string;

    before(async () => {
      eve = await newCustomer(sys, acme, { name: 'Eve', email: 'eve@customer.example' });
      frank = await newCustomer(sys, acme, { name: 'Frank', email: 'frank@customer.example' });
      await importDomains(sys, [
        { name: 'eve-one.example', reseller: 'acme', customer: eve },
        { name: 'frank-one.example', reseller: 'acme', customer: frank },
        { name: 'nobody.example', reseller: 'acme' },
      ]);
      evePkg = await newPackage(sys, acme, eve, 'Main');
      eveOther = await newPackage(sys, acme, eve, 'Second');
      expect((await api(sys, acme).addDomain(eve, evePkg, { domain: 'eve-one.example' })).status).to.equal(201);
      expect((await api(sys, acme).addDomain(eve, evePkg, { domain: 'eve-virtual.example', virtual: true })).status).to.equal(201);
      otherCustomer = await newCustomer(sys, other, { name: 'Other customer', email: 'oc@customer.example' });
    });

    async function refused(call: () => Promise<Response>, status: number, code: string) {
      const before = await state(sys);
      const res = await call();
      expect(res.status, JSON.stringify(res.body)).to.equal(status);
      expect(res.body.error.code).to.equal(code);
      expect(await state(sys)).to.deep.equal(before);
      return res;
    }

    it('a customer without a contact email is not released (invalid_contact)', async () => {
      const id = await newCustomer(sys, acme, { name: 'No Mail' });
      await importDomains(sys, [{ name: 'nomail.example', reseller: 'acme', customer: id }]);
      await refused(() => api(sys, acme).release(id), 422, 'invalid_contact');
      expect((await api(sys, acme).domain('nomail.example')).status).to.equal(200);
    });

    it('a customer with a malformed contact email is not released (invalid_contact)', async () => {
      const id = await newCustomer(sys, acme, { name: 'Bad Mail', email: 'not-an-email@' });
      await importDomains(sys, [{ name: 'badmail.example', reseller: 'acme', customer: id }]);
      const res = await refused(() => api(sys, acme).release(id), 422, 'invalid_contact');
      expect(res.body.error.message).to.include('not-an-email@');
      // Once the email is corrected the release goes through.
      expect((await sys.http().patch(`/v1/customers/${id}`).set(auth(acme)).send({ email: 'fixed@customer.example' })).status).to.equal(
        200,
      );
      const { job } = await released(sys, acme, id);
      expect(job.counts.released).to.equal(1);
    });

    it('a released customer is not released again (already_released)', async () => {
      await adaReleased();
      await refused(() => api(sys, acme).release(ada), 409, 'already_released');
      await refused(() => api(sys, acme).createPackage(ada, 'Late'), 409, 'already_released');
    });

    it('a registered domain whose registrant is another customer, another reseller or nobody is refused (wrong_registrant)', async () => {
      const a = api(sys, acme);
      await refused(() => a.addDomain(eve, eveOther, { domain: 'frank-one.example' }), 422, 'wrong_registrant');
      await refused(() => a.addDomain(eve, eveOther, { domain: 'nobody.example' }), 422, 'wrong_registrant');
      await refused(() => a.addDomain(eve, eveOther, { domain: 'someone-elses.example' }), 422, 'wrong_registrant');
      await refused(() => a.addDomain(eve, eveOther, { domain: 'not-on-platform.example' }), 422, 'wrong_registrant');
      await refused(() => a.addDomain(eve, eveOther, { domain: adaDomains[20] }), 422, 'wrong_registrant');
    });

    it('an invalid virtual domain name is refused (invalid_domains)', async () => {
      const res = await refused(
        () => api(sys, acme).addDomain(eve, eveOther, { domain: 'bad_name!', virtual: true }),
        400,
        'invalid_domains',
      );
      expect(res.body.error.details.invalid[0]).to.include({ position: 1, value: 'bad_name!' });
    });

    it('a domain already in a package cannot be put in a second one (conflict)', async () => {
      const a = api(sys, acme);
      await refused(() => a.addDomain(eve, eveOther, { domain: 'eve-one.example' }), 409, 'conflict');
      await refused(() => a.addDomain(eve, eveOther, { domain: 'eve-virtual.example', virtual: true }), 409, 'conflict');
      await refused(() => a.addDomain(eve, evePkg, { domain: 'eve-one.example' }), 409, 'conflict');
    });

    it("another reseller's customer does not exist for the caller (404)", async () => {
      const a = api(sys, acme);
      await refused(() => a.customer(otherCustomer), 404, 'not_found');
      await refused(() => a.packages(otherCustomer), 404, 'not_found');
      await refused(() => a.createPackage(otherCustomer, 'Steal'), 404, 'not_found');
      await refused(() => a.release(otherCustomer), 404, 'not_found');
      await refused(() => a.addDomain(otherCustomer, evePkg, { domain: 'eve-one.example' }), 404, 'not_found');
      await refused(() => api(sys, other).addDomain(eve, evePkg, { domain: 'eve-two.example', virtual: true }), 404, 'not_found');
      const list = await sys.http().get('/v1/customers').set(auth(other));
      expect(bodyOf<Page<JsonObject>>(list).items.map((c) => c.id)).to.deep.equal([otherCustomer]);
    });

    it("a domain cannot be imported for another reseller's customer (unknown_customer)", async () => {
      const res = await refused(
        () =>
          sys
            .http()
            .post('/v1/admin/domains/import')
            .set('Authorization', `Bearer ${OPERATOR_KEY}`)
            .send([{ name: 'stolen.example', reseller: 'acme', customer: otherCustomer }]),
        400,
        'unknown_customer',
      );
      expect(res.body.error.details.invalid[0]).to.include({ position: 1, customer: otherCustomer });
    });
  });
});

describe('customers: cancelling a release', () => {
  let sys: TestSystem;
  let acme: TestReseller;

  // No worker at first: chunks are run one by one so the cancel lands mid-way, deterministically.
  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 10 } });
    acme = await makeReseller(sys, 'acme');
  });
  after(() => sys?.stop());

  it('when a release is cancelled mid-way, products already released stay released, the rest are cancelled and the customer stays active', async () => {
    const cid = await newCustomer(sys, acme, { name: 'Gus', email: 'gus@customer.example' });
    const domains = names('gus', 50);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'acme', customer: cid })),
    );
    await newPackage(sys, acme, cid, 'Hosting');

    const res = await api(sys, acme).release(cid);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.total).to.equal(51);
    const before = await state(sys);
    const twice = await api(sys, acme).release(cid);
    expect(twice.status).to.equal(409);
    expect(twice.body.error).to.include({ code: 'conflict' });
    expect(await state(sys)).to.deep.equal(before);
    await processChunk(sys.rt.deps, res.body.id, 0);
    await processChunk(sys.rt.deps, res.body.id, 1);
    const cancel = await sys.http().post(`/v1/jobs/${res.body.id}/cancel`).set(auth(acme));
    expect(cancel.status, JSON.stringify(cancel.body)).to.equal(202);
    expect(cancel.body.status).to.equal('cancelled');

    const job = await waitForJob(sys, acme, res.body.id);
    expect(job.status).to.equal('cancelled');
    expect(job.counts).to.deep.equal({ pending: 0, running: 0, released: 20, skipped: 0, failed: 0, cancelled: 31 });
    const items = await allItems(sys, acme, res.body.id);
    const releasedNames = items.filter((i) => i.status === 'released').map((i) => i.domain);
    expect(releasedNames).to.deep.equal(domains.slice(0, 20));
    for (const d of releasedNames.slice(0, 3)) expect((await api(sys, acme).domain(d)).status).to.equal(404);
    expect((await api(sys, acme).domain(domains[20])).status).to.equal(200);

    const customer = await api(sys, acme).customer(cid);
    expect(customer.body).to.include({ status: 'active', released_at: null, domains: 30, packages: 1 });
    expect(await sys.db('claim_tokens').where({ customer_id: cid }).first()).to.equal(undefined);
    expect(await sys.db('outbound_emails').where({ to: 'gus@customer.example' }).first()).to.equal(undefined);

    // Releasing again takes what is left, then releases the customer and invites them.
    await sys.startWorker();
    const again = await api(sys, acme).release(cid);
    expect(again.status, JSON.stringify(again.body)).to.equal(202);
    expect(again.body).to.include({ total: 31, domains: 30, packages: 1 });
    const done = await waitForJob(sys, acme, again.body.id);
    expect(done.counts.released).to.equal(31);
    expect((await api(sys, acme).customer(cid)).body.status).to.equal('released');
    await sys.smtp.waitFor(mailTo('gus@customer.example'));
  });
});
