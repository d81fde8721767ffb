import { expect } from 'chai';
import { waitUntil } from '../helpers/wait';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * The claim page's edges over HTTP (the walk itself is test/browser/claim.test.ts):
 * unknown links count against the claim throttle as on the JSON routes and end on a 429 page; an
 * oversized form is a page, not JSON; what a program sends still gets JSON.
 */
describe('the claim page over HTTP: throttle, limits, and JSON kept for programs', () => {
  // Above the unknown tokens the first test sends (5), so only the last test reaches the block.
  const LIMIT = 8;
  let sys: TestSystem;

  before(async () => {
    sys = await startSystem({
      worker: false,
      config: { AUTH_MAX_FAILURES: LIMIT, AUTH_FAILURE_WINDOW_SECONDS: 60, AUTH_BLOCK_SECONDS: 120 },
    });
  });
  after(() => sys?.stop());

  const page = (path: string) => sys.http().get(path).set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');

  it('a program gets JSON at the claim address (no Accept, */*, application/json, a JSON body), a browser a page', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const req = sys.http().get('/v1/claims/claim_unknown-json');
      const res = await (accept ? req.set('Accept', accept) : req);
      expect(res.status).to.equal(404);
      expect(res.type, `Accept: ${accept}`).to.equal('application/json');
      expect(res.body.error.code).to.equal('not_found');
    }
    const posted = await sys.http().post('/v1/claims/claim_unknown-json').send({ choice: 'new_account' });
    expect(posted.type).to.equal('application/json');
    const html = await page('/v1/claims/claim_unknown-html');
    expect(html.status).to.equal(404);
    expect(html.type).to.equal('text/html');
    expect(html.text).to.include('<h1>This link is not valid</h1>').and.include('<html lang="en">');
    expect(html.headers.vary).to.match(/Accept/i);
    expect(html.headers['content-security-policy']).to.include("default-src 'none'");
  });

  it('a form bigger than a claim form is refused with a page (413)', async () => {
    const res = await sys
      .http()
      .post('/v1/claims/claim_whatever')
      .type('form')
      .send(`choice=import&email=${'a'.repeat(8000)}`);
    expect(res.status).to.equal(413);
    expect(res.type).to.equal('text/html');
  });

  it('unknown links opened in a browser count against the claim throttle and end on a 429 page with Retry-After', async () => {
    const res = await waitUntil(
      async () => {
        const r = await page(`/v1/claims/claim_guess-${Math.random().toString(36).slice(2)}`);
        expect([404, 429]).to.include(r.status);
        return r.status === 429 ? r : null;
      },
      { label: 'the claim throttle to block this address' },
    );
    expect(res.type).to.equal('text/html');
    expect(res.headers['retry-after']).to.match(/^\d+$/);
    expect(res.text).to.include('<h1>Too many attempts</h1>');
    // The JSON routes share the counter.
    const json = await sys.http().get('/v1/claims/claim_guess-json');
    expect(json.status).to.equal(429);
  });
});
