import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import type { BulkDeps } from '../shared/bulk/kind';
import { html } from '../shared/mail/html';
import { PROJECT_ROOT } from '../shared/platform/project-root';
import { buildOpenApi, listRoutes } from './openapi/document';
import { apiRoutes } from './routes';

// The package's directory, not its index (which would load the whole browser bundle into Node).
const SWAGGER_UI = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const VERSION: string = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

export const LINKS = {
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
  return buildOpenApi(listRoutes(apiRoutes(deps)), { version: VERSION });
}

// Swagger UI from the npm package, served from here: the docs work offline and load nothing from a CDN.
// An initializer file rather than an inline script, so a strict Content-Security-Policy can stay on.
const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(LINKS.openapi)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false
  });
});
`;

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>domain-push API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
</head><body>
<main id="swagger-ui"></main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

/** `/` (where to go), `/v1/openapi.json` and `/docs`. */
export function docsRouter(deps: BulkDeps): Router {
  const r = Router();
  let document: ReturnType<typeof openApiDocument> | undefined;

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
      return res.type('html').send(
        html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>domain-push</title></head>
<body style="font-family:system-ui,sans-serif;margin:2rem;max-width:40rem"><h1>domain-push</h1>
<p>Bulk actions of a domain reseller platform. The API is JSON under <code>/v1</code>.</p>
<ul>${items.map(([label, href]) => html`<li><a href="${href}">${label}</a></li>`)}</ul></body></html>`.value,
      );
    }
    res.json({ name: 'domain-push', links: LINKS });
  });
  r.get(LINKS.openapi, (_req, res) => {
    document ??= openApiDocument(deps);
    res.json(document);
  });
  r.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  r.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT_JS);
  });
  r.use('/docs/assets', express.static(SWAGGER_UI, { index: false, maxAge: '1d' }));
  return r;
}
