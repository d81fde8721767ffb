import { expect } from 'chai';
import { runCli, show } from '../helpers/cli-run';
import { makeReseller, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/** `domain-push keys list|create|revoke`: the real executable against a running system (issue 17 #9). */
describe('domain-push keys (e2e)', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let me: TestReseller;
  let other: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false });
    me = await makeReseller(sys, 'cli-keys-me', { push: false });
    other = await makeReseller(sys, 'cli-keys-other', { push: false });
  });
  after(async () => {
    await sys?.stop();
  });

  const cli = (key: string, args: string[]) => runCli({ url: sys.url, key }, args);
  const live = async (id: number | string) => (await sys.db('api_keys').where({ id }).first('revoked_at')).revoked_at === null;

  it('create prints the key once (stdout alone), list shows prefixes only, revoke --yes ends the key', async () => {
    const made = await cli(me.key, ['keys', 'create', '--label', 'ci runner']);
    expect(made.code, show(made)).to.equal(0);
    const key = made.stdout.trim();
    expect(made.stdout).to.equal(`${key}\n`);
    expect(key).to.match(/^dpk_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).to.match(/only time it is shown/);
    const row = await sys
      .db('api_keys')
      .where({ key_prefix: key.slice(0, 8), reseller_id: me.id })
      .first('id', 'label');
    expect(row.label).to.equal('ci runner');

    const listed = await cli(key, ['keys', 'list']);
    expect(listed.code, show(listed)).to.equal(0);
    expect(listed.stdout).to.match(/ID\s+PREFIX\s+LABEL\s+CREATED\s+LAST USED\s+STATUS/);
    expect(listed.stdout).to.include(`${me.key.slice(0, 8)}…`);
    expect(listed.stdout).to.match(new RegExp(`${row.id}\\s+${key.slice(0, 8)}…\\s+ci runner .*live \\(this key\\)`));
    expect(listed.stdout + listed.stderr).to.not.include(key);
    expect(listed.stdout + listed.stderr).to.not.include(me.key);

    const revoked = await cli(me.key, ['keys', 'revoke', String(row.id), '--yes']);
    expect(revoked.code, show(revoked)).to.equal(0);
    expect(revoked.stdout).to.match(new RegExp(`Revoked key ${row.id} \\(${key.slice(0, 8)}…\\)`));
    expect(await live(row.id)).to.equal(false);
    const after = await cli(key, ['keys', 'list']);
    expect(after.code, show(after)).to.equal(2);
    expect(after.stderr).to.match(/Refused \(401 unauthorized\).*Check DOMAIN_PUSH_API_KEY/);
  });

  it("revoke without a terminal and without --yes, another reseller's key id, or the last key: exit 2, nothing revoked", async () => {
    const spare = await cli(me.key, ['--json', 'keys', 'create']);
    expect(spare.code, show(spare)).to.equal(0);
    const created = JSON.parse(spare.stdout);
    expect(created).to.include({ created_via: 'reseller', current: false });
    expect(created.api_key).to.match(/^dpk_/);

    const unconfirmed = await cli(me.key, ['keys', 'revoke', created.id]);
    expect(unconfirmed.code, show(unconfirmed)).to.equal(2);
    expect(unconfirmed.stderr).to.match(/without confirmation.*Nothing was revoked/);
    expect(await live(created.id)).to.equal(true);

    const [foreign] = await sys.db('api_keys').where({ reseller_id: other.id }).select('id');
    const cross = await cli(me.key, ['keys', 'revoke', String(foreign.id), '--yes']);
    expect(cross.code, show(cross)).to.equal(2);
    expect(cross.stderr).to.match(/You have no key .*Nothing was revoked/);
    expect(await live(foreign.id)).to.equal(true);

    // The spare goes (through the API: the CLI's revoke is shown above); then the last key is refused.
    const gone = await sys.http().post(`/v1/api-keys/${created.id}/revoke`).set('Authorization', `Bearer ${created.api_key}`);
    expect(gone.status).to.equal(200);
    const [mine] = await sys.db('api_keys').where({ reseller_id: me.id }).whereNull('revoked_at').select('id');
    const last = await cli(me.key, ['keys', 'revoke', String(mine.id), '--yes']);
    expect(last.code, show(last)).to.equal(2);
    expect(last.stderr).to.match(/Refused \(409 last_key\)/);
    expect(await live(mine.id)).to.equal(true);
  });
});
