import { expect } from 'chai';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { makeReseller, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

const basic = `Basic ${Buffer.from(`ops:${OPERATOR_KEY}`).toString('base64')}`;

/** A Content-Security-Policy header as directive → sources. */
function directives(csp: string | undefined): Map<string, string[]> {
  expect(csp, 'Content-Security-Policy').to.be.a('string');
  return new Map(
    csp!
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name.toLowerCase(), sources]),
  );
}

/** The `<name>=<value>` pair of a Set-Cookie header and the line itself. */
function cookieOf(res: { headers: Record<string, unknown> }, name: string) {
  const line = ((res.headers['set-cookie'] as string[] | undefined) ?? []).find((c) => c.startsWith(`${name}=`));
  expect(line, `Set-Cookie ${name}`).to.be.a('string');
  return { pair: line!.split(';')[0], line: line! };
}

/**
 * The browser edges of issue 17 over HTTP: every HTML page's policy (no framing, no inline script),
 * HSTS and the __Host- cookie behind an https PUBLIC_URL (whose origin alone counts), the session
 * binding that defeats a tossed cookie, the /admin CSRF guard (the curl case of the issue), and
 * /docs/assets serving nothing but what /docs loads. The Chromium cases: test/browser/security-edges.test.ts.
 */
describe('security headers and browser edges', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let reseller: TestReseller;

  before(async () => {
    await ensureConsoleBuilt({ quiet: true });
    sys = await startSystem({ worker: false });
    reseller = await makeReseller(sys, 'sec-edges');
  });
  after(async () => {
    await sys?.stop();
  });

  const bulkJobs = async () => {
    const counts = await sys.rt.deps.queues.bulk.getJobCounts();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  };

  it('every HTML page has a strict CSP (no inline script, no framing) and X-Frame-Options: DENY; no HSTS over http', async () => {
    const pages: { path: string; auth?: boolean; status?: number }[] = [
      { path: '/' },
      { path: '/console/' },
      { path: '/console/domains' },
      { path: '/console/index.html' },
      { path: '/docs' },
      { path: '/admin/emails', auth: true },
      { path: '/v1/claims/claim_unknown-sec', status: 404 },
    ];
    for (const p of pages) {
      const req = sys.http().get(p.path).set('Accept', 'text/html');
      if (p.auth) req.set('Authorization', basic);
      const res = await req;
      expect(res.status, p.path).to.equal(p.status ?? 200);
      expect(res.headers['content-type'], p.path).to.match(/^text\/html/);
      const csp = directives(res.headers['content-security-policy']);
      expect(csp.get('default-src'), `${p.path} default-src`).to.satisfy(
        (s: string[]) => s.length === 1 && ["'self'", "'none'"].includes(s[0]),
      );
      expect(csp.get('frame-ancestors'), `${p.path} frame-ancestors`).to.deep.equal(["'none'"]);
      expect(csp.get('object-src') ?? csp.get('default-src'), `${p.path} object-src`).to.satisfy((s: string[]) =>
        s.every((v) => v === "'none'"),
      );
      expect(csp.get('base-uri'), `${p.path} base-uri`).to.satisfy((s: string[]) => s.length === 1 && ["'self'", "'none'"].includes(s[0]));
      const scripts = csp.get('script-src') ?? csp.get('default-src')!;
      expect(scripts.join(' '), `${p.path} script-src`).to.not.match(/unsafe-inline|unsafe-eval|data:|\*/);
      expect(res.headers['x-frame-options'], p.path).to.equal('DENY');
      expect(res.headers['strict-transport-security'], p.path).to.equal(undefined);
      // No inline script for the policy to let through: every <script> names a file.
      const inline = [...res.text.matchAll(/<script\b([^>]*)>/gi)].filter((m) => !/\bsrc=/i.test(m[1]));
      expect(inline, `${p.path} inline scripts`).to.have.length(0);
    }
  });

  it('the curl case: text/plain from a foreign Origin to bull-board is refused, and so is every form body; the bulk queue is unchanged', async () => {
    const add = '/admin/queues/api/queues/bulk/add';
    const before = await bulkJobs();
    const own = sys.url;
    const otherPort = `http://127.0.0.1:${new URL(sys.url).port === '1' ? 2 : 1}`;
    const attempts: { type: string; origin?: string; site?: string; status: number; code: string }[] = [
      { type: 'text/plain', origin: 'http://evil.example', status: 403, code: 'origin_mismatch' },
      { type: 'application/json', origin: 'http://evil.example', status: 403, code: 'origin_mismatch' },
      { type: 'application/json', origin: otherPort, status: 403, code: 'origin_mismatch' },
      { type: 'application/json', site: 'cross-site', status: 403, code: 'origin_mismatch' },
      { type: 'application/json', site: 'same-site', status: 403, code: 'origin_mismatch' },
      { type: 'text/plain', status: 415, code: 'unsupported_media_type' },
      { type: 'text/plain', origin: own, status: 415, code: 'unsupported_media_type' },
      { type: 'application/x-www-form-urlencoded', origin: own, status: 415, code: 'unsupported_media_type' },
      { type: 'multipart/form-data; boundary=x', origin: own, status: 415, code: 'unsupported_media_type' },
    ];
    for (const a of attempts) {
      const req = sys.http().post(add).set('Authorization', basic).set('Content-Type', a.type);
      if (a.origin) req.set('Origin', a.origin);
      if (a.site) req.set('Sec-Fetch-Site', a.site);
      const res = await req.send(a.type === 'application/json' ? '{"name":"x","data":{}}' : 'anything');
      expect(res.status, JSON.stringify(a)).to.equal(a.status);
      expect(res.body.error.code, JSON.stringify(a)).to.equal(a.code);
    }
    // A change to the mailbox (it has none) is guarded the same way.
    const mail = await sys.http().post('/admin/emails/').set('Authorization', basic).set('Origin', 'http://evil.example').send('x');
    expect(mail.status).to.equal(403);
    expect(await bulkJobs()).to.equal(before);
    // The dashboard's own page (JSON by fetch, same origin) still works.
    const ok = await sys
      .http()
      .post(add)
      .set('Authorization', basic)
      .set('Origin', own)
      .set('Sec-Fetch-Site', 'same-origin')
      .send({ name: 'sec-edge', data: {} });
    expect(ok.status, ok.text).to.equal(200);
    expect(await bulkJobs()).to.equal(before + 1);
    await sys.rt.deps.queues.bulk.remove(ok.body.job.id);
  });

  it("a session cookie counts only with its binding: not alone, not with another session's, not beside a second cookie", async () => {
    const signIn = async () => {
      const res = await sys.http().post('/v1/sessions').send({ api_key: reseller.key }).expect(201);
      const binding = res.headers['session-binding'];
      expect(binding).to.match(/^[A-Za-z0-9_-]{40,}$/);
      return { pair: cookieOf(res, 'dp_session').pair, binding };
    };
    const mine = await signIn();
    const other = await signIn();
    const me = (cookie: string, binding?: string) => {
      const req = sys.http().get('/v1/me').set('Cookie', cookie);
      if (binding) req.set('Session-Binding', binding);
      return req;
    };
    expect((await me(mine.pair, mine.binding)).status).to.equal(200);
    for (const [cookie, binding] of [
      [mine.pair, undefined],
      [mine.pair, other.binding],
      [mine.pair, 'x'.repeat(43)],
      [`${other.pair}; ${mine.pair}`, mine.binding],
    ] as const) {
      const res = await me(cookie, binding);
      expect(res.status, `${cookie} ${binding}`).to.equal(401);
      expect(res.body.error.code).to.equal('unauthorized');
    }
    // EventSource and download links cannot send a header: a GET may name the binding in its query.
    const viaQuery = await sys.http().get('/v1/me').query({ session_binding: mine.binding }).set('Cookie', mine.pair);
    expect(viaQuery.status).to.equal(200);
    // A change may not: it is refused, and nothing changed.
    const put = await sys
      .http()
      .put('/v1/push-settings/notification-email')
      .query({ session_binding: mine.binding })
      .set('Cookie', mine.pair)
      .set('Origin', sys.url)
      .send({ email: 'tossed@example.com' });
    expect(put.status).to.equal(401);
    const settings = await sys.http().get('/v1/push-settings').set('Authorization', `Bearer ${reseller.key}`).expect(200);
    expect(settings.body.notification_email).to.not.equal('tossed@example.com');
  });

  it('/docs/assets serves only the files /docs loads', async () => {
    const page = await sys.http().get('/docs').expect(200);
    const loaded = [...page.text.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]);
    const folder = loaded[0].slice(0, loaded[0].lastIndexOf('/'));
    for (const a of loaded) await sys.http().get(a).expect(200);
    for (const path of [
      '/docs/assets/',
      folder,
      `${folder}/`,
      `${folder}/index.html`,
      `${folder}/package.json`,
      `${folder}/swagger-ui.js.map`,
      `${folder}/swagger-ui-bundle.js.map`,
      `${folder}/oauth2-redirect.html`,
      `${folder}/swagger-ui-standalone-preset.js`,
      `${folder}/%2e%2e%2fpackage.json`,
      `${folder}/..%2f..%2fpackage.json`,
      '/docs/assets/000000000000/swagger-ui.css',
      '/docs/assets/swagger-ui.css',
      '/docs/index.html',
      '/docs/package.json',
    ]) {
      const res = await sys.http().get(path);
      expect(res.status, path).to.equal(404);
      expect(res.text, path).to.not.match(/swagger-ui-dist|"version"|Swagger UI<\/title>/);
    }
  });

  describe('behind an https PUBLIC_URL', () => {
    let secure: TestSystem;
    let acme: TestReseller;
    const PUBLIC_URL = 'https://push.example.test';

    before(async () => {
      secure = await startSystem({ worker: false, config: { PUBLIC_URL } });
      acme = await makeReseller(secure, 'sec-edges-https');
    });
    after(async () => {
      await secure?.stop();
    });

    it("every answer carries HSTS; the session cookie is __Host-; only PUBLIC_URL's origin counts, never the Host", async () => {
      for (const path of ['/', '/console/', '/docs', '/healthz', '/v1/openapi.json']) {
        const res = await secure.http().get(path);
        expect(res.headers['strict-transport-security'], path).to.match(/^max-age=31536000\b/);
      }
      // Sign-in from the address the request reached (a Host header the client picked) is refused.
      const fromHost = await secure.http().post('/v1/sessions').set('Origin', secure.url).send({ api_key: acme.key });
      expect(fromHost.status).to.equal(403);
      expect(fromHost.body.error.code).to.equal('origin_mismatch');
      expect(fromHost.headers['set-cookie']).to.equal(undefined);

      const res = await secure.http().post('/v1/sessions').set('Origin', PUBLIC_URL).send({ api_key: acme.key }).expect(201);
      const { pair, line } = cookieOf(res, '__Host-dp_session');
      expect(line).to.match(/;\s*Secure/i);
      expect(line).to.match(/;\s*Path=\/(;|$)/);
      expect(line).to.not.match(/Domain=/i);
      const binding = res.headers['session-binding'];
      // The plain name is not read when the deployment is https.
      const plain = await secure.http().get('/v1/me').set('Cookie', pair.replace('__Host-', '')).set('Session-Binding', binding);
      expect(plain.status).to.equal(401);
      await secure.http().get('/v1/me').set('Cookie', pair).set('Session-Binding', binding).expect(200);

      // A change with the Host-derived origin is refused, with PUBLIC_URL's it goes through.
      const change = (origin: string) =>
        secure
          .http()
          .put('/v1/push-settings/notification-email')
          .set('Cookie', pair)
          .set('Session-Binding', binding)
          .set('Origin', origin)
          .send({ email: 'ops@acme.example' });
      const refused = await change(secure.url);
      expect(refused.status).to.equal(403);
      expect(refused.body.error.code).to.equal('origin_mismatch');
      expect((await change(PUBLIC_URL)).status).to.equal(200);
      // The dashboard's guard takes PUBLIC_URL's origin too.
      const board = await secure.http().put('/admin/queues/api/queues/bulk/pause').set('Authorization', basic).set('Origin', secure.url);
      expect(board.status).to.equal(403);
    });
  });
});
