import { expect } from 'chai';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * /docs serves Swagger UI's files from here, and only the ones the page uses: not the package's
 * stock index.html (it points at an outside petstore), its package.json, its other bundles or
 * its source maps. They are cached for a year under a path that names their content.
 */
describe('the files of /docs', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let page: string;
  let assets: string[];

  before(async () => {
    sys = await startSystem({ worker: false });
    const res = await sys.http().get('/docs').expect(200);
    page = res.text;
    assets = [...page.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]);
    // The compressed copies are made off the event loop after the first /docs; until then the
    // files go out as they are (and their ETag changes when the copy is ready: wait for it).
    const bundle = assets.find((a) => a.endsWith('/swagger-ui-bundle.js'))!;
    await waitUntil('the gzipped bundle', async () => {
      const res = await sys.http().get(bundle).set('Accept-Encoding', 'gzip').buffer(true);
      return res.headers['content-encoding'] === 'gzip';
    });
  });
  after(async () => {
    await sys?.stop();
  });

  it('the page loads four files, all under one versioned folder', () => {
    expect(assets.map((a) => a.replace(/^\/docs\/assets\/[0-9a-f]{12}\//, ''))).to.have.members([
      'swagger-ui.css',
      'favicon-32x32.png',
      'swagger-ui-bundle.js',
      'init.js',
    ]);
    expect(new Set(assets.map((a) => a.split('/')[3])).size).to.equal(1);
  });

  it('each is served with a year of caching, its type, an ETag (304 when it matches) and no source map', async () => {
    for (const asset of assets) {
      const res = await sys.http().get(asset).buffer(true).expect(200);
      expect(res.headers['cache-control'], asset).to.equal('public, max-age=31536000, immutable');
      expect(res.headers['x-content-type-options'], asset).to.equal('nosniff');
      expect(res.headers['content-type'], asset).to.match(/^(application\/javascript|text\/css|image\/png)/);
      if (!asset.endsWith('.png')) expect(res.text ?? String(res.body), asset).to.not.include('sourceMappingURL');
      const again = await sys.http().get(asset).set('If-None-Match', res.headers.etag);
      expect(again.status, asset).to.equal(304);
      // The gzipped copy and the plain file are two bodies: neither's ETag matches the other.
      if (res.headers['content-encoding'] === 'gzip') {
        const plain = await sys.http().get(asset).set('Accept-Encoding', 'identity').set('If-None-Match', res.headers.etag);
        expect(plain.status, asset).to.equal(200);
      }
    }
  });

  it('the bundle goes out gzipped to a browser that takes gzip, and as it is to one that does not', async () => {
    const bundle = assets.find((a) => a.endsWith('/swagger-ui-bundle.js'))!;
    const plain = await sys.http().get(bundle).set('Accept-Encoding', 'identity').buffer(true).expect(200);
    expect(plain.headers['content-encoding']).to.equal(undefined);
    const zipped = await sys.http().get(bundle).set('Accept-Encoding', 'gzip').buffer(true).expect(200);
    expect(zipped.headers['content-encoding']).to.equal('gzip');
    // supertest inflates it: what arrives is the same file.
    expect(zipped.text).to.equal(plain.text);
    expect(Number(zipped.headers['content-length'])).to.be.below(plain.text.length / 2);
    expect(zipped.headers.vary).to.include('Accept-Encoding');
  });

  it("the package's other files are not served: stock index.html, package.json, source maps, other bundles", async () => {
    const folder = assets[0].slice(0, assets[0].lastIndexOf('/'));
    for (const file of [
      'index.html',
      'package.json',
      'swagger-ui-bundle.js.map',
      'swagger-ui.css.map',
      'swagger-initializer.js',
      'swagger-ui-standalone-preset.js',
      'swagger-ui-es-bundle.js',
      'oauth2-redirect.html',
      'README.md',
      '..%2Fpackage.json',
    ]) {
      const res = await sys.http().get(`${folder}/${file}`);
      expect(res.status, file).to.equal(404);
    }
    // The bundle's license notice, which its first line points at, is there.
    expect((await sys.http().get(`${folder}/swagger-ui-bundle.js.LICENSE.txt`)).status).to.equal(200);
    // The unversioned paths of before, and another version's folder.
    expect((await sys.http().get('/docs/assets/swagger-ui-bundle.js')).status).to.equal(404);
    expect((await sys.http().get('/docs/assets/index.html')).status).to.equal(404);
    expect((await sys.http().get('/docs/assets/000000000000/swagger-ui-bundle.js')).status).to.equal(404);
  });

  it('the page itself is revalidated (its asset paths change with them) and allows scripts from here only', async () => {
    const res = await sys.http().get('/docs').expect(200);
    expect(res.headers['cache-control']).to.equal('no-cache');
    expect(res.headers['content-security-policy']).to.include("script-src 'self'");
    expect(res.headers['content-security-policy']).to.include("frame-ancestors 'none'");
    expect(page).to.include('<link rel="preload" href="/v1/openapi.json" as="fetch" crossorigin="anonymous">');
  });
});
