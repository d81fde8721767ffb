'use strict';
/**
 * Preloaded (`node --require`) into the compiled build by test/e2e/built.test.ts: the process may
 * load only what an image installed with `npm ci --omit=dev` has. A module that resolves into a
 * package package-lock.json marks `dev` (tsx, typescript, vite, mocha, ...) or to a TypeScript file
 * fails as if it were missing (MODULE_NOT_FOUND, so code that probes for an optional package acts
 * as it would in the image), and the refusal is printed on stderr as a line starting with
 * "production-only: refused", which the test looks for. require() goes through
 * Module._resolveFilename; import() through a resolve hook registered with module.register.
 *
 * PRODUCTION_ONLY_ROOT names the folder of the package-lock.json whose node_modules the build uses.
 */
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { isMainThread } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');

const root = fs.realpathSync(process.env.PRODUCTION_ONLY_ROOT || process.cwd());
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const devOnly = new Set(
  Object.entries(lock.packages)
    .filter(([key, entry]) => key && entry.dev)
    .map(([key]) => key),
);

/** Never at run time, whatever the lock says. */
const ALWAYS = ['tsx', 'typescript', '@typescript', 'esbuild', '@esbuild'];

/** Why `file` would be missing from the image, or undefined when it is there. */
function refusal(file) {
  if (!path.isAbsolute(file)) return undefined; // a builtin
  if (/\.[cm]?tsx?$/.test(file) && !file.endsWith('.d.ts')) return `TypeScript source ${file}`;
  const rel = path.relative(root, file).split(path.sep).join('/');
  const pkg = /^((?:node_modules\/(?:@[^/]+\/)?[^/]+\/)+)/.exec(rel)?.[1].slice(0, -1);
  if (!pkg) return undefined;
  // TypeScript stays in node_modules after --omit=dev as an optional peer of valibot (a dependency
  // of @bull-board/api; npm keeps "devOptional" packages), so it is refused by name as well.
  const name = pkg.slice(pkg.lastIndexOf('node_modules/') + 'node_modules/'.length);
  if (devOnly.has(pkg) || ALWAYS.some((n) => name === n || name.startsWith(`${n}/`))) return `dev dependency ${pkg}`;
  return undefined;
}

function refuse(why, request, from, code) {
  process.stderr.write(`production-only: refused ${why} (${JSON.stringify(request)} from ${from ?? '?'})\n`);
  return Object.assign(new Error(`Cannot find module '${request}' (production-only: refused ${why})`), { code });
}

module.exports = { refusal };

if (isMainThread && !globalThis.__productionOnly) {
  globalThis.__productionOnly = true;
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, ...rest) {
    const file = resolveFilename.call(this, request, parent, ...rest);
    const why = refusal(file);
    if (why) throw refuse(why, request, parent?.filename, 'MODULE_NOT_FOUND');
    return file;
  };
  const hooks = `
    import { createRequire } from 'node:module';
    import { fileURLToPath } from 'node:url';
    const { refusal } = createRequire(${JSON.stringify(__filename)})(${JSON.stringify(__filename)});
    export async function resolve(specifier, context, next) {
      const found = await next(specifier, context);
      const why = found.url.startsWith('file:') ? refusal(fileURLToPath(found.url)) : undefined;
      if (why) {
        process.stderr.write('production-only: refused ' + why + ' (' + JSON.stringify(specifier) + ' from ' + context.parentURL + ')\\n');
        throw Object.assign(new Error("Cannot find module '" + specifier + "' (production-only: refused " + why + ')'), { code: 'ERR_MODULE_NOT_FOUND' });
      }
      return found;
    }`;
  Module.register(`data:text/javascript,${encodeURIComponent(hooks)}`, pathToFileURL(__filename));
}
