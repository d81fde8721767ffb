import { expect } from 'chai';
import { dashboardAction } from '../../api/routes/audit';
import { sinceTime } from '../../cli/audit';
import { CliError } from '../../cli/exit-codes';
import { safeSummary } from '../../shared/audit/entries';

describe('audit trail: what an entry may hold (docs/audit.md)', () => {
  it('a summary keeps field names and safe values, never a secret, and is bounded', () => {
    const out = safeSummary({
      fields: ['api_key', 'password', 'name'],
      name: 'Blue',
      password: 'hunter2',
      profile: { mode: 'existing', password: 'pw', username: 'u' },
      api_key: 'dpk_secret',
      apiKey: 'x',
      key: 'k',
      webhook_secret: 's',
      session_token: 't',
      Authorization: 'Bearer x',
      long: 'x'.repeat(500),
      many: Array.from({ length: 30 }, (_, i) => i),
      deep: { a: { b: { c: { d: { e: 1 } } } } },
      gone: undefined,
      when: new Date('2026-12-06T00:00:00Z'),
    }) as Record<string, unknown>;
    expect(JSON.stringify(out)).to.not.match(/hunter2|dpk_secret|"pw"|Bearer x/);
    expect(out).to.deep.include({
      fields: ['api_key', 'password', 'name'],
      name: 'Blue',
      password: '[redacted]',
      profile: { mode: 'existing', password: '[redacted]', username: 'u' },
      api_key: '[redacted]',
      apiKey: '[redacted]',
      key: '[redacted]',
      webhook_secret: '[redacted]',
      session_token: '[redacted]',
      Authorization: '[redacted]',
      when: '2026-12-06T00:00:00.000Z',
    });
    expect(out.long).to.have.length(201);
    expect(out.many).to.have.length(21);
    expect((out.many as unknown[])[20]).to.equal('… 10 more (30 in all)');
    expect(JSON.stringify(out.deep)).to.include('[nested]');
    expect(out).to.not.have.property('gone');
  });

  it("names bull-board's API routes as actions on a queue, a job or a scheduler", () => {
    expect(dashboardAction('PUT', '/api/queues/bulk/clean/completed')).to.deep.equal({
      action: 'dashboard.queue.clean',
      targetType: 'queue',
      targetId: 'bulk',
      details: { status: 'completed' },
    });
    expect(dashboardAction('PUT', '/api/queues/bulk/pause')).to.include({ action: 'dashboard.queue.pause', targetId: 'bulk' });
    expect(dashboardAction('PUT', '/api/queues/pause')).to.include({ action: 'dashboard.queues.pause', targetId: null });
    expect(dashboardAction('PUT', '/api/queues/bulk/retry/failed')).to.include({ action: 'dashboard.queue.retry' });
    expect(dashboardAction('PUT', '/api/queues/bulk/rate-limit/release')).to.include({ action: 'dashboard.queue.rate_limit_release' });
    expect(dashboardAction('PUT', '/api/queues/bulk/job%201/retry')).to.deep.equal({
      action: 'dashboard.job.retry',
      targetType: 'queue_job',
      targetId: 'bulk/job 1',
    });
    expect(dashboardAction('PATCH', '/api/queues/bulk/abc/update-data')).to.include({ action: 'dashboard.job.update_data' });
    expect(dashboardAction('DELETE', '/api/queues/bulk/job-schedulers/s1')).to.include({
      action: 'dashboard.job_scheduler.remove',
      targetId: 'bulk/s1',
    });
    expect(dashboardAction('POST', '/api/metrics/history/purge')).to.include({ action: 'dashboard.metrics.history.purge' });
    expect(dashboardAction('POST', '/elsewhere')).to.include({ action: 'dashboard.request', targetType: 'dashboard' });
    // Every action fits the API's action filter.
    for (const p of ['/api/queues/bulk/clean/completed', '/api/queues/b%2Fq/x-y/promote', '/api/x/Y.z'])
      expect(dashboardAction('PUT', p).action).to.match(/^[a-z0-9_.]{1,100}$/);
  });

  it('the CLI reads --since as 7d, 12h, 30m or an ISO time, and refuses anything else before any request', () => {
    const now = new Date('2026-12-06T12:00:00Z');
    expect(sinceTime('7d', now)).to.equal('2026-11-29T12:00:00.000Z');
    expect(sinceTime('12h', now)).to.equal('2026-12-06T00:00:00.000Z');
    expect(sinceTime('30m', now)).to.equal('2026-12-06T11:30:00.000Z');
    expect(sinceTime('2026-12-01')).to.equal('2026-12-01');
    expect(sinceTime('2026-12-01T10:00:00+01:00')).to.equal('2026-12-01T10:00:00+01:00');
    for (const bad of ['yesterday', '7 days', '2026-13-01', '2026-12-01T10:00:00', ''])
      expect(() => sinceTime(bad), bad).to.throw(CliError, /is not a time/);
  });
});
