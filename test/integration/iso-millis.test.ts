import { expect } from 'chai';
import { createTestDb, type TestDb } from '../helpers/db';
import { isoMillis } from '../../shared/platform/sql';

/**
 * The results CSV prints `finished_at` as Postgres formats it (isoMillis), where it printed the
 * driver's Date: the two must agree to the character, or an attachment and the items list of the
 * same job would disagree by a millisecond.
 */
describe('isoMillis: a timestamptz as the text Date#toISOString prints', () => {
  let t: TestDb;
  before(async () => {
    t = await createTestDb();
  });
  after(() => t?.drop());

  it('agrees with the driver’s Date for every microsecond fraction, time zone and the edges of a millisecond', async () => {
    const edges = [
      '2026-12-06 10:11:12+00',
      '2026-12-06 10:11:12.1+00',
      '2026-12-06 10:11:12.0005+00',
      '2026-12-06 10:11:12.999999+00',
      '2026-06-01 00:00:00.000001+00',
      '2026-01-31 23:59:59.9995+02',
      '1999-12-31 23:59:59.123456-08',
    ];
    // In a session whose time zone is not UTC (+05:30), as a server's may be.
    const rows = await t.db.transaction(async (trx): Promise<{ ts: Date; iso: string }[]> => {
      await trx.raw(`set local time zone 'Asia/Kolkata'`);
      const out = await trx.raw(
        `select ts, ${isoMillis('ts')} as iso
         from (select unnest(?::timestamptz[]) as ts
               union all
               select timestamptz '2026-01-01 00:00:00+00' + g * interval '1 microsecond' * 7919 from generate_series(0, 20000) g) s`,
        [edges],
      );
      return out.rows;
    });
    expect(rows).to.have.length(edges.length + 20001);
    const differ = rows.filter((r) => r.iso !== r.ts.toISOString());
    expect(differ.map((r) => `${r.iso} vs ${r.ts.toISOString()}`).slice(0, 5)).to.deep.equal([]);
  });
});
