import path from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';

export const DASHBOARD_PATH = '/admin/queues';

/** bull-board's page loads its fonts from Google; ours come from the @fontsource packages. */
const FONTS = [
  { pkg: '@fontsource/ibm-plex-sans', weights: [400, 500, 600] },
  { pkg: '@fontsource/ibm-plex-mono', weights: [400, 500] },
];
const GOOGLE_FONTS = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^"]*"[^>]*>/g;

export function localFontLinks(): string {
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

/** bull-board with every queue the system has; mounted behind operator auth by the app. */
export function dashboardRouter(queues: Queue[], opts: { readOnly?: boolean } = {}): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !!opts.readOnly })), serverAdapter: adapter });
  const board = adapter.getRouter() as Express;
  // bull-board mounts an Express app of its own, which would announce itself again.
  board.disable?.('x-powered-by');
  const router = express.Router();
  for (const { pkg } of FONTS) {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    router.use(`/fonts/${path.basename(pkg)}`, express.static(dir, { index: false, fallthrough: false }));
  }
  router.use(withLocalFonts, board);
  return router;
}
