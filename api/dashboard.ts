import path from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { AppError, Forbidden } from '../shared/platform/errors';
import { publicUrlOf } from './security-headers';
import { ownOrigin } from './session-cookie';

export const DASHBOARD_PATH = '/admin/queues';

/** bull-board's page loads its fonts from Google; ours come from the @fontsource packages. */
const FONTS = [
  { pkg: '@fontsource/ibm-plex-sans', weights: [400, 500, 600] },
  { pkg: '@fontsource/ibm-plex-mono', weights: [400, 500] },
];
const GOOGLE_FONTS = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^"]*"[^>]*>/g;

function localFontLinks(): string {
  // Relative to the page's <base href="/admin/queues/">.
  return FONTS.flatMap(({ pkg, weights }) =>
    weights.map((w) => `<link href="fonts/${path.basename(pkg)}/${w}.css" rel="stylesheet">`),
  ).join('');
}

/** The page without requests to the internet: an operator's network may not reach it, and it should not need to. */
function withLocalFonts(_req: Request, res: Response, next: NextFunction) {
  const render = res.render.bind(res);
  res.render = ((view: string, options?: object) =>
    render(view, options ?? {}, (err: Error | null, html: string) => {
      if (err) return next(err);
      res.type('html').send(html.replace(GOOGLE_FONTS, localFontLinks()));
    })) as Response['render'];
  next();
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery guard for the operator pages under /admin. Their credential is HTTP
 * basic auth, which a browser re-sends on any request to this origin, a form posted from another
 * site included. So a change (any method but GET/HEAD/OPTIONS) must come from this deployment's
 * own pages: an Origin, when sent, must be ours (PUBLIC_URL's when set, else the origin the request
 * reached); without one, Sec-Fetch-Site must not say another site (another port of this host is
 * `same-site`, still not ours). Then a body must be JSON (bull-board's own page sends JSON by
 * fetch): text/plain, urlencoded and multipart, what an HTML form can send, are refused with 415.
 * A request without a browser (curl, no Origin, no Sec-Fetch-Site) passes the first check only.
 */
export const adminCsrfGuard: RequestHandler = (req, _res, next) => {
  if (SAFE_METHODS.has(req.method)) return next();
  const origin = req.get('origin');
  const fetchSite = req.get('sec-fetch-site');
  if (
    origin !== undefined
      ? origin !== ownOrigin(req, publicUrlOf(req))
      : fetchSite !== undefined && !['same-origin', 'none'].includes(fetchSite)
  )
    throw new Forbidden(
      'origin_mismatch',
      'This change to an operator page does not come from this deployment (foreign Origin or cross-site request).',
    );
  const type = req.get('content-type');
  if (type !== undefined && !req.is(['application/json', 'application/*+json']))
    throw new AppError(415, 'unsupported_media_type', 'Send JSON with Content-Type: application/json.', {
      content_type: type.slice(0, 100) || null,
    });
  next();
};

/** bull-board with every queue the system has; mounted behind operator auth by the app. */
export function dashboardRouter(queues: Queue[], opts: { readOnly?: boolean } = {}): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !!opts.readOnly })), serverAdapter: adapter });
  const board = adapter.getRouter() as Express;
  // bull-board mounts an Express app of its own, which would announce itself again.
  board.disable?.('x-powered-by');
  const router = express.Router();
  router.use(adminCsrfGuard);
  for (const { pkg } of FONTS) {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    router.use(`/fonts/${path.basename(pkg)}`, express.static(dir, { index: false, fallthrough: false }));
  }
  router.use(withLocalFonts, board);
  return router;
}
