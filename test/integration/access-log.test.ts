import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../shared/platform/logger';
import { waitUntil } from '../helpers/wait';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/**
 * The access log names the path the client asked for: routers mounted under a prefix (the
 * mailbox at /admin/emails, the dashboard at /admin/queues) used to log `GET / 200`. Secrets stay
 * out: the query string, the claim token in a claim link and the Authorization header.
 */
describe('the access log', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  // biome-ignore lint/suspicious/noExplicitAny: pino's JSON lines, read field by field in the assertions
  const lines: any[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        cb();
      },
    });
    // The product's own logger (its redaction rules), writing where the test reads.
    sys = await startSystem({ worker: false, log: createLogger('info', { role: 'test' }, sink) });
  });
  after(async () => {
    await sys?.stop();
  });

  const lineOf = (id: string) => waitUntil(`the access log line of ${id}`, async () => lines.find((l) => l.req?.id === id));

  it('a route of a mounted router is logged with its full path, not the path inside the router', async () => {
    const basic = `Basic ${Buffer.from(`ops:${OPERATOR_KEY}`).toString('base64')}`;
    await sys.http().get('/admin/emails?limit=5').set('Authorization', basic).set('X-Request-Id', 'mailbox-1').expect(200);
    const mailbox = await lineOf('mailbox-1');
    expect(mailbox.msg).to.equal('GET /admin/emails 200');
    expect(mailbox.req).to.include({ method: 'GET', path: '/admin/emails' });

    await sys.http().get('/admin/emails/999999').set('Authorization', basic).set('X-Request-Id', 'mailbox-2');
    expect((await lineOf('mailbox-2')).msg).to.match(/^GET \/admin\/emails\/999999 \d{3}$/);

    await sys.http().get('/admin/queues/api/queues').set('Authorization', basic).set('X-Request-Id', 'dashboard-1').expect(200);
    expect((await lineOf('dashboard-1')).msg).to.equal('GET /admin/queues/api/queues 200');

    await sys.http().get('/docs').set('X-Request-Id', 'docs-1').expect(200);
    expect((await lineOf('docs-1')).msg).to.equal('GET /docs 200');
  });

  it('keeps the query string, a claim token and the Authorization header out of every line', async () => {
    const token = 'claim-token-that-must-not-be-logged-0123456789';
    await sys.http().get(`/v1/claims/${token}?secret=also-not`).set('Accept', 'application/json').set('X-Request-Id', 'claim-1');
    const claim = await lineOf('claim-1');
    expect(claim.msg).to.match(/^GET \/v1\/claims\/\[redacted\] \d{3}$/);
    expect(claim.req.path).to.equal('/v1/claims/[redacted]');

    await sys.http().get('/v1/me').set('Authorization', `Bearer ${OPERATOR_KEY}`).set('X-Request-Id', 'me-1');
    await lineOf('me-1');
    const all = JSON.stringify(lines);
    expect(all).to.not.include(token);
    expect(all).to.not.include('also-not');
    expect(all).to.not.include(OPERATOR_KEY);
  });
});
