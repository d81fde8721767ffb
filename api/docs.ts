import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { type Request, type Response, Router } from 'express';
import type { BulkDeps } from '../shared/bulk/kind';
import { html, SafeHtml } from '../shared/mail/html';
import { PROJECT_ROOT } from '../shared/platform/project-root';
import { buildOpenApi, listRoutes } from './openapi/document';
import { jobStreams } from './job-events';
import { apiRoutes } from './routes';
import { pageCsp, setPageHeaders, styleHash } from './security-headers';

// The package's directory, not its index (which would load the whole browser bundle into Node).
const SWAGGER_UI = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const VERSION: string = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

const LINKS = {
  console: '/console/',
  docs: '/docs',
  openapi: '/v1/openapi.json',
  dashboard: '/admin/queues',
  mailbox: '/admin/emails',
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
} as const;

/** The document of this app's route table; built once (the table does not change at run time). */
export function openApiDocument(deps: BulkDeps) {
  // The table is read off a router built for it; that router's stream hub (which sweeps sessions
  // on a timer) is closed at once, or it would keep querying the database for good.
  const streams = jobStreams(deps);
  try {
    return buildOpenApi(listRoutes(apiRoutes(deps, streams)), { version: VERSION, kinds: deps.kinds });
  } finally {
    streams.close();
  }
}

/** Scripts and styles from here only; Swagger UI's inline styles and its data: images need the two exceptions. */
const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** The index page's one style; its policy names it by hash. */
const INDEX_STYLE = 'body{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem}';
const INDEX_CSP = pageCsp({ styleHashes: [styleHash(INDEX_STYLE)] });

/**
 * Swagger UI, served from here (the docs work offline and load nothing from a CDN), and only the
 * files the page uses: not the package's stock index.html (it points at an outside petstore), its
 * package.json or its source maps. Each is read once and kept in memory (with a gzipped copy)
 * and served under a path that names a hash of them all, so a browser caches them for a year and
 * an upgrade of swagger-ui-dist changes the path.
 */
const SWAGGER_FILES: Record<string, string> = {
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-bundle.js.LICENSE.txt': 'text/plain; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/**
 * Swagger UI resolves an OpenAPI 3.1 document with ApiDOM, which took 2–4 s of CPU on ours (about
 * 320 local $refs, many with sibling keywords) before the first operation showed: most of the
 * 5.5 s /docs took to render. Every $ref of our document is local (#/components/…), so this
 * plugin resolves them in a few milliseconds instead (a $ref's siblings merged over its target,
 * as 3.1 reads them; `$$ref` kept, as Swagger UI's own resolver does, for the schema names).
 * Plain ES5 in a file of its own: a strict Content-Security-Policy can stay on.
 */
const INIT_JS = `(function () {
  'use strict';
  function at(root, pointer) {
    return pointer.slice(2).split('/').reduce(function (node, key) {
      return node == null ? node : node[key.replace(/~1/g, '/').replace(/~0/g, '~')];
    }, root);
  }
  function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function merge(target, over) {
    if (!isObject(target) || !isObject(over)) return over;
    var out = {};
    Object.keys(target).forEach(function (k) { out[k] = target[k]; });
    Object.keys(over).forEach(function (k) { out[k] = k in target ? merge(target[k], over[k]) : over[k]; });
    return out;
  }
  function resolve(node, root, seen) {
    if (Array.isArray(node)) return node.map(function (v) { return resolve(v, root, seen); });
    if (!isObject(node)) return node;
    var out = {};
    Object.keys(node).forEach(function (k) { if (k !== '$ref') out[k] = resolve(node[k], root, seen); });
    var ref = node.$ref;
    if (typeof ref !== 'string') return out;
    // A reference outside this document, or one that loops, is left as it is.
    if (ref.charAt(0) !== '#' || seen.indexOf(ref) >= 0) return merge({ $ref: ref }, out);
    var target = resolve(at(root, ref), root, seen.concat([ref]));
    return merge(isObject(target) ? merge(target, { $$ref: ref }) : { $ref: ref }, out);
  }
  function LocalRefs() {
    return {
      fn: {
        resolve: function (options) {
          return Promise.resolve({ spec: resolve(options.spec, options.spec, []), errors: [] });
        },
        resolveSubtree: function (spec, path) {
          var node = path.reduce(function (n, key) { return n == null ? n : n[key]; }, spec);
          return Promise.resolve({ spec: resolve(node, spec, []), errors: [] });
        },
      },
    };
  }
  // The page opens with the operations listed from the server (#docs-outline); Swagger UI takes
  // its place in the render that first lists the operations, before that render reaches the screen.
  function Outline() {
    return {
      wrapComponents: {
        operations: function (Original, system) {
          return function (props) {
            var outline = document.getElementById('docs-outline');
            if (outline) {
              outline.remove();
              document.body.classList.remove('docs-loading');
            }
            return system.React.createElement(Original, props);
          };
        },
      },
    };
  }
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(LINKS.openapi)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [LocalRefs, Outline],
    layout: 'BaseLayout',
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false
  });
})();
`;

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  gzipped?: Buffer;
}

/** The files of /docs/assets/<hash>/, read once; the hash names their content. */
const docsAssets = memo(() => {
  const files = new Map<string, Asset>();
  const add = (name: string, type: string, body: Buffer) => {
    files.set(name, { body, type, etag: etagOf(body) });
  };
  for (const [name, type] of Object.entries(SWAGGER_FILES)) {
    let body = fs.readFileSync(path.join(SWAGGER_UI, name));
    // The maps are not served; a pointer to one would only make a browser's devtools ask for it.
    if (type.startsWith('text/css') || type.startsWith('application/javascript'))
      body = Buffer.from(body.toString('utf8').replace(/\n?\/[*/]# sourceMappingURL=\S+?(?: \*\/)?\s*$/, '\n'));
    add(name, type, body);
  }
  add('init.js', 'application/javascript; charset=utf-8', Buffer.from(INIT_JS));
  // Compressed off the event loop (zlib's thread pool); until a file's copy is ready it goes out as it is.
  for (const asset of files.values())
    if (asset.body.length > 1024 && !asset.type.startsWith('image/'))
      zlib.gzip(asset.body, (err, gzipped) => {
        if (!err) asset.gzipped = gzipped;
      });
  const hash = crypto.createHash('sha256');
  for (const [name, a] of files) hash.update(name).update(a.etag);
  const base = `/docs/assets/${hash.digest('hex').slice(0, 12)}`;
  return { base, files };
});

/**
 * /docs: Swagger UI, and meanwhile the operations listed from the document, in Swagger UI's own
 * markup and styles. Swagger UI needs about 0.9 s here to evaluate its 1.7 MB bundle and render
 * the 55 operations (0.6 s for a document of one); the outline is on screen in a fraction of that,
 * its links are Swagger UI's deep links (it opens the operation once it has loaded), and it stays
 * readable without JavaScript.
 */
function docsPage(doc: ApiDocument): Asset {
  const { base } = docsAssets();
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>domain-push API</title>
<link rel="preload" href="${LINKS.openapi}" as="fetch" crossorigin="anonymous">
<link rel="stylesheet" href="${base}/swagger-ui.css">
<link rel="icon" type="image/png" href="${base}/favicon-32x32.png" sizes="32x32">
<style>.docs-loading #swagger-ui .loading-container{display:none}</style>
</head><body class="docs-loading">
${outline(doc).value}
<main id="swagger-ui"></main>
<script src="${base}/swagger-ui-bundle.js"></script>
<script src="${base}/init.js"></script>
</body></html>`;
  return { body: Buffer.from(body), type: 'text/html; charset=utf-8', etag: etagOf(Buffer.from(body)) };
}

interface ApiDocument {
  info: { title: string; version: string; summary?: string; description?: string; license?: { name: string; identifier?: string } };
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, { operationId: string; summary?: string; tags?: string[] }>>;
}

/** Markdown as far as the document uses it in prose: paragraphs and `code`. */
const prose = (text: string) =>
  html`${text.split(/\n\n+/).map((p) => html`<p>${p.split(/`([^`]+)`/).map((part, i) => (i % 2 ? html`<code>${part}</code>` : part))}</p>`)}`;

/** The collapsed operations list Swagger UI renders (same classes), without its buttons. */
function outline(doc: ApiDocument) {
  const byTag = new Map<string, { method: string; path: string; id: string; summary: string }[]>();
  for (const t of doc.tags ?? []) byTag.set(t.name, []);
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags?.[0] ?? 'default';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push({ method, path, id: op.operationId, summary: op.summary ?? '' });
    }
  const description = (name: string) => doc.tags?.find((t) => t.name === name)?.description;
  return html`<div class="swagger-ui" id="docs-outline"><div class="information-container wrapper"><section class="block col-12"><div class="info">
<hgroup class="main"><h1 class="title">${doc.info.title}<span><small><pre class="version"> ${doc.info.version} </pre></small><small class="version-stamp"><pre class="version">OAS 3.1</pre></small></span></h1><a href="${LINKS.openapi}" class="link"><span class="url"> ${LINKS.openapi}</span></a></hgroup>
${doc.info.summary ? html`<p class="info__summary">${doc.info.summary}</p>` : ''}<div class="info__description description"><div class="renderedMarkdown">${prose(doc.info.description ?? '')}</div></div>${doc.info.license ? html`<div class="info__license"><div class="info__license__url"><a class="link" href="https://spdx.org/licenses/${doc.info.license.identifier ?? ''}.html">${doc.info.license.name}</a></div></div>` : ''}</div></section></div>
<div class="scheme-container"><section class="schemes wrapper block col-12"><div class="schemes-server-container"><div><span class="servers-title">Servers</span><div class="servers"><label for="docs-outline-servers"><select id="docs-outline-servers"><option>/ - this server</option></select></label></div></div></div><div class="auth-wrapper"><button class="btn authorize unlocked" type="button"><span>Authorize</span></button></div></section></div>
<div class="wrapper"><section class="block col-12"><div>${[...byTag].map(
    ([
      tag,
      ops,
    ]) => html`<span><div class="opblock-tag-section is-open"><h3 class="opblock-tag"><a class="nostyle" href="#/${encodeURIComponent(tag)}"><span>${tag}</span></a>${description(tag) ? html`<small><div class="renderedMarkdown"><p>${description(tag)}</p></div></small>` : ''}</h3>
<div class="no-margin"><div class="operation-tag-content">${ops.map(
      (op) =>
        html`<span><div class="opblock opblock-${op.method}"><div class="opblock-summary"><a class="opblock-summary-control" href="#/${encodeURIComponent(tag)}/${op.id}"><span class="opblock-summary-method">${op.method.toUpperCase()}</span><div class="opblock-summary-path-description-wrapper"><span class="opblock-summary-path" data-path="${op.path}"><span>${op.path}</span></span><div class="opblock-summary-description">${op.summary}</div></div></a></div></div></span>`,
    )}</div></div></div></span>`,
  )}</div></section></div></div>`;
}

const etagOf = (body: Buffer) => `"${crypto.createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;

function memo<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/**
 * Sends a cached file: 304 when the browser has it, gzip when it takes it (the compressed copy has
 * an ETag of its own, as two different bodies must).
 */
function sendCached(req: Request, res: Response, asset: Asset, cacheControl: string) {
  const gzip = !!asset.gzipped && req.acceptsEncodings('gzip', 'identity') === 'gzip';
  const etag = gzip ? `${asset.etag.slice(0, -1)}-gzip"` : asset.etag;
  res.set({ 'Content-Type': asset.type, ETag: etag, 'Cache-Control': cacheControl }).vary('Accept-Encoding');
  if (req.get('if-none-match') === etag) return void res.status(304).end();
  if (gzip) res.set('Content-Encoding', 'gzip');
  res.send(gzip ? asset.gzipped : asset.body);
}

const FOR_A_YEAR = 'public, max-age=31536000, immutable';

/** `/` (where to go), `/v1/openapi.json` and `/docs`. */
export function docsRouter(deps: BulkDeps): Router {
  const r = Router();

  r.get('/', (req, res) => {
    if (req.accepts(['json', 'html']) === 'html') {
      const items = Object.entries({
        'Reseller console': LINKS.console,
        'API docs (OpenAPI 3.1)': LINKS.docs,
        'OpenAPI document': LINKS.openapi,
        'Queue dashboard (operator)': LINKS.dashboard,
        'Mailbox (operator)': LINKS.mailbox,
        Health: LINKS.health,
        Readiness: LINKS.ready,
        Metrics: LINKS.metrics,
      });
      setPageHeaders(res, INDEX_CSP);
      return res.type('html').send(
        html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>domain-push</title><style>${new SafeHtml(INDEX_STYLE)}</style></head>
<body><h1>domain-push</h1>
<p>Bulk actions of a domain reseller platform. The API is JSON under <code>/v1</code>.</p>
<ul>${items.map(([label, href]) => html`<li><a href="${href}">${label}</a></li>`)}</ul></body></html>`.value,
      );
    }
    res.json({ name: 'domain-push', links: LINKS });
  });
  // Built once (the route table does not change at run time) and sent as the same bytes each time.
  const spec = memo(() => Buffer.from(JSON.stringify(openApiDocument(deps))));
  r.get(LINKS.openapi, (_req, res) => {
    res.type('json').send(spec());
  });
  const page = memo(() => docsPage(JSON.parse(spec().toString()) as ApiDocument));
  r.get('/docs', (req, res) => {
    setPageHeaders(res, DOCS_CSP);
    sendCached(req, res, page(), 'no-cache');
  });
  r.get('/docs/assets/:version/:file', (req, res, next) => {
    const { base, files } = docsAssets();
    const asset = files.get(String(req.params.file));
    if (!asset || `/docs/assets/${req.params.version}` !== base) return next();
    sendCached(req, res, asset, FOR_A_YEAR);
  });
  return r;
}
