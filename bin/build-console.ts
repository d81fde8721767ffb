import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../shared/platform/project-root';
import { writeConsoleTypes } from './console-types';

/**
 * Builds the reseller console (console/ → console/dist) with Vite, but only when the build is
 * missing or stale: the build records a hash of its inputs (every source file, the Vite and
 * React versions) and `npm start` rebuilds when that hash changes. So a fresh clone, a `git pull`
 * or an edit is picked up without a separate step, and an unchanged console costs a hash.
 *
 * `node --import tsx bin/build-console.ts` builds if stale; `--force` always builds.
 */
const ROOT = PROJECT_ROOT;
const CONSOLE = path.join(ROOT, 'console');
const DIST = path.join(CONSOLE, 'dist');
const STAMP = '.build-stamp';

function inputFiles(dir = CONSOLE): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'dist' && e.name !== 'node_modules' && !e.name.startsWith('dist.')) out.push(...inputFiles(p));
    } else out.push(p);
  }
  return out.sort();
}

function version(pkg: string): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return 'missing';
  }
}

/**
 * Files outside console/ that the console bundles (shared/catalog/domain-list.ts, shared/bulk/outcome.ts
 * and what they import): found by following relative imports out of console/src, so a change to a
 * shared module makes the build stale like a change to the console itself.
 */
function sharedInputFiles(): string[] {
  const found = new Set<string>();
  const follow = (file: string) => {
    const src = fs.readFileSync(file, 'utf8');
    for (const m of src.matchAll(/\bfrom\s+'(\.{1,2}\/[^']+)'/g)) {
      const base = path.resolve(path.dirname(file), m[1]);
      const target = ['', '.ts', '.tsx', '/index.ts'].map((ext) => base + ext).find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
      if (!target || found.has(target)) continue;
      if (target.startsWith(CONSOLE + path.sep)) continue;
      found.add(target);
      follow(target);
    }
  };
  for (const f of inputFiles(path.join(CONSOLE, 'src'))) if (/\.tsx?$/.test(f)) follow(f);
  return [...found].sort();
}

function consoleInputsHash(): string {
  const h = crypto.createHash('sha256');
  for (const pkg of ['vite', '@vitejs/plugin-react', 'react', 'react-dom', '@tanstack/react-query']) h.update(`${pkg}@${version(pkg)}\n`);
  for (const f of [...inputFiles(), ...sharedInputFiles()])
    h.update(path.relative(CONSOLE, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return h.digest('hex');
}

function consoleBuildIsFresh(hash = consoleInputsHash()): boolean {
  try {
    return fs.readFileSync(path.join(DIST, STAMP), 'utf8').trim() === hash && fs.existsSync(path.join(DIST, 'index.html'));
  } catch {
    return false;
  }
}

/**
 * Builds into a temporary folder, then swaps it in, so a server that is running never serves a
 * half-written build. Returns whether it built.
 */
export async function ensureConsoleBuilt(opts: { force?: boolean; quiet?: boolean } = {}): Promise<boolean> {
  // The console's API types come from the OpenAPI document (bin/console-types.ts): regenerated
  // first, so a changed API shape makes the build stale and fails its type check. Where Vite is
  // missing (a production image) the console was built with the image and the sources stay as they are.
  if (version('vite') !== 'missing' && fs.existsSync(path.join(CONSOLE, 'src'))) writeConsoleTypes();
  const hash = consoleInputsHash();
  if (!opts.force && consoleBuildIsFresh(hash)) return false;
  // Vite is a dev dependency: a production image (npm ci --omit=dev) built the console at image
  // build time, so without Vite an existing build is served as it is.
  if (version('vite') === 'missing' && fs.existsSync(path.join(DIST, 'index.html'))) return false;
  const { build } = await import('vite');
  const tmp = `${DIST}.${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await build({
    configFile: path.join(CONSOLE, 'vite.config.mts'),
    root: CONSOLE,
    logLevel: opts.quiet ? 'warn' : 'info',
    build: { outDir: tmp, emptyOutDir: true },
  });
  fs.writeFileSync(path.join(tmp, STAMP), `${hash}\n`);
  const old = `${DIST}.old-${process.pid}`;
  if (fs.existsSync(DIST)) fs.renameSync(DIST, old);
  fs.renameSync(tmp, DIST);
  fs.rmSync(old, { recursive: true, force: true });
  return true;
}

if (require.main === module) {
  ensureConsoleBuilt({ force: process.argv.includes('--force') }).then(
    (built) => console.log(built ? 'console built in console/dist' : 'console build is up to date'),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
