import { expect } from 'chai';
import { nextCycleStart } from '../../shared/push/billing';

const at = (iso: string) => new Date(iso);
const next = (iso: string, anchor?: number) => nextCycleStart(at(iso), anchor).toISOString();

describe('billing: nextCycleStart (the gaining reseller is billed from the next full cycle)', () => {
  describe('anchor on the 1st (the default)', () => {
    it('without an anchor, cycles start on the 1st of each month at 00:00 UTC', () => {
      expect(next('2027-03-15T10:20:30Z')).to.equal('2027-04-01T00:00:00.000Z');
      expect(next('2027-03-15T10:20:30Z', 1)).to.equal('2027-04-01T00:00:00.000Z');
    });

    it('a push exactly at a cycle start is billed from the NEXT cycle, not the one that just began', () => {
      expect(next('2027-04-01T00:00:00.000Z')).to.equal('2027-05-01T00:00:00.000Z');
    });

    it('a push one millisecond before a cycle start is billed from that cycle start', () => {
      expect(next('2027-03-31T23:59:59.999Z')).to.equal('2027-04-01T00:00:00.000Z');
    });

    it('a push one millisecond after a cycle start waits for the following cycle', () => {
      expect(next('2027-04-01T00:00:00.001Z')).to.equal('2027-05-01T00:00:00.000Z');
    });

    it('December rolls over to January of the next year', () => {
      expect(next('2027-12-15T08:00:00Z')).to.equal('2028-01-01T00:00:00.000Z');
      expect(next('2027-12-31T23:59:59.999Z')).to.equal('2028-01-01T00:00:00.000Z');
      expect(next('2027-12-01T00:00:00.000Z')).to.equal('2028-01-01T00:00:00.000Z');
    });

    it('works in UTC, whatever time zone the push moment was written in', () => {
      // 23:30 at UTC-02:00 on 31 March is 01:30 UTC on 1 April: already past that cycle start.
      expect(next('2027-03-31T23:30:00-02:00')).to.equal('2027-05-01T00:00:00.000Z');
      // 00:30 at UTC+02:00 on 1 April is 22:30 UTC on 31 March: the 1 April cycle is still ahead.
      expect(next('2027-04-01T00:30:00+02:00')).to.equal('2027-04-01T00:00:00.000Z');
    });
  });

  describe('anchor mid-month', () => {
    it('a push before the anchor day is billed from this month’s anchor day', () => {
      expect(next('2027-03-10T12:00:00Z', 15)).to.equal('2027-03-15T00:00:00.000Z');
    });

    it('a push on or after the anchor day is billed from next month’s anchor day', () => {
      expect(next('2027-03-15T00:00:00.000Z', 15)).to.equal('2027-04-15T00:00:00.000Z');
      expect(next('2027-03-20T12:00:00Z', 15)).to.equal('2027-04-15T00:00:00.000Z');
    });

    it('December to January keeps the anchor day', () => {
      expect(next('2027-12-20T00:00:00Z', 10)).to.equal('2028-01-10T00:00:00.000Z');
    });
  });

  describe('anchor on the 31st (month ends clamp to the last day)', () => {
    it('in February of a common year the cycle starts on the 28th', () => {
      expect(next('2027-02-10T00:00:00Z', 31)).to.equal('2027-02-28T00:00:00.000Z');
      expect(next('2027-01-31T00:00:00.000Z', 31)).to.equal('2027-02-28T00:00:00.000Z');
    });

    it('in February of a leap year the cycle starts on the 29th', () => {
      expect(next('2028-02-10T00:00:00Z', 31)).to.equal('2028-02-29T00:00:00.000Z');
    });

    it('a push exactly at the clamped February start is billed from 31 March', () => {
      expect(next('2027-02-28T00:00:00.000Z', 31)).to.equal('2027-03-31T00:00:00.000Z');
      expect(next('2028-02-29T00:00:00.000Z', 31)).to.equal('2028-03-31T00:00:00.000Z');
    });

    it('in April (30 days) the cycle starts on the 30th, and the next one on 31 May', () => {
      expect(next('2027-04-10T00:00:00Z', 31)).to.equal('2027-04-30T00:00:00.000Z');
      expect(next('2027-04-29T23:59:59.999Z', 31)).to.equal('2027-04-30T00:00:00.000Z');
      expect(next('2027-04-30T00:00:00.000Z', 31)).to.equal('2027-05-31T00:00:00.000Z');
    });

    it('31 December rolls over to 31 January', () => {
      expect(next('2027-12-31T00:00:00.000Z', 31)).to.equal('2028-01-31T00:00:00.000Z');
      expect(next('2027-12-31T12:00:00Z', 31)).to.equal('2028-01-31T00:00:00.000Z');
      expect(next('2027-12-30T23:59:59.999Z', 31)).to.equal('2027-12-31T00:00:00.000Z');
    });
  });

  describe('anchors 29 and 30 across February', () => {
    it('anchor 29: 29 February in a leap year (2028), 28 February in a common year (2027)', () => {
      expect(next('2028-02-01T00:00:00Z', 29)).to.equal('2028-02-29T00:00:00.000Z');
      expect(next('2027-02-01T00:00:00Z', 29)).to.equal('2027-02-28T00:00:00.000Z');
    });

    it('anchor 29: a push on 29 February 2028 (exactly or later that day) is billed from 29 March', () => {
      expect(next('2028-02-29T00:00:00.000Z', 29)).to.equal('2028-03-29T00:00:00.000Z');
      expect(next('2028-02-29T18:00:00Z', 29)).to.equal('2028-03-29T00:00:00.000Z');
      expect(next('2028-02-28T23:59:59.999Z', 29)).to.equal('2028-02-29T00:00:00.000Z');
    });

    it('anchor 29: a push on 28 February 2027 (the clamped start) is billed from 29 March', () => {
      expect(next('2027-02-28T00:00:00.000Z', 29)).to.equal('2027-03-29T00:00:00.000Z');
      expect(next('2027-02-27T23:59:59.999Z', 29)).to.equal('2027-02-28T00:00:00.000Z');
    });

    it('anchor 29 or 30: a push in late January lands on the clamped February start', () => {
      expect(next('2027-01-30T00:00:00.000Z', 30)).to.equal('2027-02-28T00:00:00.000Z');
      expect(next('2028-01-30T00:00:00.000Z', 30)).to.equal('2028-02-29T00:00:00.000Z');
      expect(next('2028-01-29T00:00:00.000Z', 29)).to.equal('2028-02-29T00:00:00.000Z');
    });

    it('anchor 30: the clamped February start is followed by 30 March', () => {
      expect(next('2028-02-29T00:00:00.000Z', 30)).to.equal('2028-03-30T00:00:00.000Z');
      expect(next('2027-02-28T00:00:00.000Z', 30)).to.equal('2027-03-30T00:00:00.000Z');
    });

    it('anchor 1 is not affected by February at all', () => {
      expect(next('2028-02-29T00:00:00.000Z')).to.equal('2028-03-01T00:00:00.000Z');
      expect(next('2027-02-28T23:59:59.999Z')).to.equal('2027-03-01T00:00:00.000Z');
    });
  });

  describe('UTC only: the machine’s time zone and its DST changes play no part', () => {
    const zone = process.env.TZ;
    after(() => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    });

    for (const tz of ['Europe/Berlin', 'America/New_York', 'Pacific/Auckland', 'UTC']) {
      it(`in ${tz}, a push in the DST-change night or at a cycle start bills from the same UTC midnight`, () => {
        process.env.TZ = tz;
        // 28 March 2027: Europe skips 02:00-03:00 local; 14 March: New York; 4 April: Auckland goes back.
        expect(next('2027-03-28T01:30:00Z')).to.equal('2027-04-01T00:00:00.000Z');
        expect(next('2027-03-14T07:00:00Z', 14)).to.equal('2027-04-14T00:00:00.000Z');
        expect(next('2027-04-03T23:59:59.999Z', 4)).to.equal('2027-04-04T00:00:00.000Z');
        expect(next('2027-10-31T00:00:00.000Z', 31)).to.equal('2027-11-30T00:00:00.000Z');
        expect(next('2028-02-29T00:00:00.000Z', 29)).to.equal('2028-03-29T00:00:00.000Z');
      });
    }
  });

  it('the result is always strictly after the push moment and at 00:00 UTC on a cycle day', () => {
    // Thousands of cases: plain comparisons collected into one list, so a unit test stays well under 2 s.
    const broken: string[] = [];
    for (const anchor of [1, 15, 28, 29, 30, 31]) {
      for (let t = Date.UTC(2027, 10, 1); t < Date.UTC(2028, 3, 1); t += 7 * 3_600_000 + 13 * 60_000) {
        const r = nextCycleStart(new Date(t), anchor);
        const at = `anchor ${anchor} at ${new Date(t).toISOString()} -> ${r.toISOString()}`;
        if (!(r.getTime() > t)) broken.push(`${at}: not after the push`);
        if (r.getUTCHours() + r.getUTCMinutes() + r.getUTCSeconds() + r.getUTCMilliseconds() !== 0) broken.push(`${at}: not at 00:00`);
        const cycleDay = (y: number, m: number) => Math.min(anchor, new Date(Date.UTC(y, m + 1, 0)).getUTCDate());
        if (r.getUTCDate() !== cycleDay(r.getUTCFullYear(), r.getUTCMonth())) broken.push(`${at}: not a cycle day`);
        // No cycle start was skipped: the one before the result is at or before the push.
        const prevMonth = r.getUTCMonth() - 1;
        const prev = Date.UTC(r.getUTCFullYear(), prevMonth, cycleDay(r.getUTCFullYear(), prevMonth));
        if (!(prev <= t)) broken.push(`${at}: skipped the cycle start ${new Date(prev).toISOString()}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });
});
