import { expect } from 'chai';
import pino from 'pino';
import { connectionErrorLogger } from '../../shared/platform/redis';
import { isUniqueViolation, unnest } from '../../shared/platform/sql';

describe('small helpers: unnest, isUniqueViolation, connection error logs', () => {
  it('unnest builds one typed array binding per column, in order, with nulls kept', () => {
    const u = unnest('u', { id: ['bigint', [1, 2]], reason: ['text', [null, 'locked']] });
    expect(u.sql).to.equal('unnest(?::bigint[], ?::text[]) as u(id, reason)');
    expect(u.bindings).to.deep.equal([
      [1, 2],
      [null, 'locked'],
    ]);
  });

  it('unnest refuses columns of different lengths (Postgres would pad the short one with nulls)', () => {
    expect(() => unnest('u', { id: ['bigint', [1, 2]], reason: ['text', ['x']] })).to.throw(/reason has 1 values, not 2/);
  });

  it('isUniqueViolation is true only for SQLSTATE 23505', () => {
    expect(isUniqueViolation({ code: '23505' })).to.equal(true);
    expect(isUniqueViolation({ code: '23503' })).to.equal(false);
    expect(isUniqueViolation(new Error('x'))).to.equal(false);
    expect(isUniqueViolation(null)).to.equal(false);
  });

  it('a connection error is logged when first seen, and a repeat of it only after the interval', () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const onError = connectionErrorLogger(log, 'redis producer connection', 60_000);
    onError(new Error('connect ECONNREFUSED'));
    onError(new Error('connect ECONNREFUSED'));
    onError(new Error('Connection is closed.'));
    expect(lines.map((l) => JSON.parse(l).err)).to.deep.equal(['connect ECONNREFUSED', 'Connection is closed.']);
    expect(JSON.parse(lines[0]).msg).to.equal('redis producer connection error');
  });
});
