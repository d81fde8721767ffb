import { expect } from 'chai';
import { allItems, authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * The gaining reseller pays from the first cycle start strictly after the push, on its own
 * anchor day; the losing reseller stops paying at that same moment. The clock is what the worker
 * reads when it pushes, so each case sets it before submitting.
 */
describe('billing of pushed domains', () => {
  let sys: TestSystem;
  let now = new Date('2027-01-01T00:00:00Z');
  let losing: TestReseller;
  const gaining: Record<number, TestReseller> = {};
  let seq = 0;

  before(async () => {
    sys = await startSystem({ clock: () => now });
    // The losing side's own anchor must not matter: push_out follows the gaining side's cycle.
    losing = await makeReseller(sys, 'losing', { anchor: 15 });
    await makeReseller(sys, 'other'); // holds a domain the losing side does not own
    for (const anchor of [1, 29, 30, 31]) {
      gaining[anchor] = await makeReseller(sys, `gaining-${anchor}`, { anchor });
      await authorize(sys, gaining[anchor], losing);
    }
  });
  after(() => sys?.stop());

  async function pushAt(at: string, anchor: number, names: string[], extra: Record<string, unknown> = {}) {
    now = new Date(at);
    const res = await submit(sys, losing, { gaining_reseller: gaining[anchor].username, domains: names, ...extra });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('completed');
    const events = await sys
      .db('billing_events as b')
      .join('domains as d', 'd.id', 'b.domain_id')
      .join('resellers as r', 'r.id', 'b.reseller_id')
      .where('b.job_id', res.body.id)
      .orderBy(['d.name', 'b.kind'])
      .select('d.name as domain', 'r.username as reseller', 'b.kind', 'b.effective_from');
    return {
      id: res.body.id as string,
      job,
      events: events.map((e) => ({ ...e, effective_from: new Date(e.effective_from).toISOString() })),
    };
  }

  async function fresh(n: number) {
    const names = Array.from({ length: n }, () => `bill-${++seq}.example`);
    await importDomains(
      sys,
      names.map((name) => ({ name, reseller: 'losing' })),
    );
    return names;
  }

  function expected(names: string[], gainingName: string, effective: string) {
    return names.flatMap((domain) => [
      { domain, reseller: gainingName, kind: 'push_in', effective_from: effective },
      { domain, reseller: 'losing', kind: 'push_out', effective_from: effective },
    ]);
  }

  it('a push mid-month bills the gaining reseller from the next 1st and ends the losing reseller’s billing then; skipped and failed domains are not billed', async () => {
    const pushed = await fresh(2);
    await importDomains(sys, [
      { name: 'bill-locked.example', reseller: 'losing', locked: true },
      { name: 'bill-foreign.example', reseller: 'other' },
    ]);
    const { id, job, events } = await pushAt('2027-03-15T10:00:00Z', 1, [
      ...pushed,
      'bill-locked.example',
      'bill-foreign.example',
      'bill-missing.example',
    ]);
    expect(job.counts).to.include({ pushed: 2, skipped: 1, failed: 2 });
    const items = await allItems(sys, losing, id);
    expect(
      items
        .filter((i) => i.status === 'pushed')
        .map((i) => i.domain)
        .sort(),
    ).to.deep.equal(pushed);
    expect(events).to.deep.equal(expected(pushed, 'gaining-1', '2027-04-01T00:00:00.000Z'));
    const unbilled = await sys
      .db('billing_events as b')
      .join('domains as d', 'd.id', 'b.domain_id')
      .whereIn('d.name', ['bill-locked.example', 'bill-foreign.example']);
    expect(unbilled).to.deep.equal([]);
  });

  it('a push exactly at a cycle start is billed from the following cycle', async () => {
    const names = await fresh(1);
    const { events } = await pushAt('2027-04-01T00:00:00.000Z', 1, names);
    expect(events).to.deep.equal(expected(names, 'gaining-1', '2027-05-01T00:00:00.000Z'));
  });

  it('a locked domain pushed with apply_to_locked is billed like any other', async () => {
    const names = [`bill-${++seq}.example`];
    await importDomains(sys, [{ name: names[0], reseller: 'losing', locked: true }]);
    const { events } = await pushAt('2027-12-31T23:59:59.999Z', 1, names, { apply_to_locked: true });
    expect(events).to.deep.equal(expected(names, 'gaining-1', '2028-01-01T00:00:00.000Z'));
  });

  it('anchor 31 in a 28-day February: the cycle starts on the 28th', async () => {
    const names = await fresh(1);
    const { events } = await pushAt('2027-01-31T12:00:00Z', 31, names);
    expect(events).to.deep.equal(expected(names, 'gaining-31', '2027-02-28T00:00:00.000Z'));
  });

  it('anchor 29 in a leap year: the cycle starts on 29 February', async () => {
    const names = await fresh(1);
    const { events } = await pushAt('2028-02-10T08:30:00Z', 29, names);
    expect(events).to.deep.equal(expected(names, 'gaining-29', '2028-02-29T00:00:00.000Z'));
  });

  it('anchor 30, pushed in the last second of 29 February (its cycle start that month): billed from 30 March', async () => {
    const names = await fresh(1);
    const { events } = await pushAt('2028-02-29T23:59:59Z', 30, names);
    expect(events).to.deep.equal(expected(names, 'gaining-30', '2028-03-30T00:00:00.000Z'));
  });
});
