import fs from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler, Router } from 'express';
import { PROJECT_ROOT } from '../shared/platform/project-root';
import { setPageHeaders } from './security-headers';

export const CONSOLE_PATH = '/console';
const CONSOLE_DIST = path.join(PROJECT_ROOT, 'console', 'dist');

/**
 * Serves the built reseller console (console/dist) as static files; any other path under
 * /console gets index.html so the app's own routes survive a reload. Hashed assets are cached
 * for good; index.html never, so a new build is picked up at once. The page carries the strict
 * Content-Security-Policy (the build has no inline script or style: console/vite.config.mts) and
 * may not be framed, so no other page (another port of this host included) can overlay it.
 */
export function consoleRouter(dist = CONSOLE_DIST): Router {
  const r = Router();
  const index = path.join(dist, 'index.html');
  r.use(
    express.static(dist, {
      index: false,
      setHeaders: (res, file) => {
        if (file.endsWith('.html')) setPageHeaders(res);
        res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  const app: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.originalUrl === CONSOLE_PATH) return res.redirect(301, `${CONSOLE_PATH}/`);
    if (req.path.startsWith('/assets/')) return next(); // a missing asset is a 404, not the app
    if (!fs.existsSync(index))
      return res
        .status(503)
        .type('text/plain')
        .send('The reseller console is not built. Run `npm run build:console` (npm start does it when needed).\n');
    res.setHeader('Cache-Control', 'no-cache');
    setPageHeaders(res);
    res.sendFile(index);
  };
  r.use(app);
  return r;
}
