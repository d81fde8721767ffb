import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

/**
 * Unused exports and files, the job knip or ts-prune would do: they need the TypeScript compiler's
 * JS API, which TypeScript 7 (native) does not have. This reads the sources as text instead, like
 * imports.test.ts: every `export` of the product folders must be imported by some other file
 * (product, test, bench or migration), and every product file must be imported by one, except
 * the entry points below. An export used only in its own file loses its `export`; one used nowhere
 * is deleted.
 */
const ROOT = path.resolve(__dirname, '../..');
const PRODUCT = ['shared', 'api', 'worker', 'cli', 'app', 'bin', 'console/src'];
/** Files that only import: tests, benches, migrations, fixtures and the CLI's launcher. */
const CONSUMERS = ['test', 'bench', 'migrations', 'bin/domain-push.js'];

/**
 * Started by a process, a script or a bundler, never imported: bin/ scripts, the console's bundle
 * entry, the CLI (bin/domain-push.js requires it by a computed path and calls `run`). A file of
 * `declare module` augmentations (shared/<domain>/deps.ts) is read by the compiler, not imported.
 */
const ENTRY_POINTS = [/^bin\/[^/]+\.ts$/, /^console\/src\/main\.tsx$/, /^cli\/main\.ts$/];
const ENTRY_EXPORTS = ['cli/main.ts: run'];
/** Generated from the OpenAPI document (npm run console:types): its exports are the document's names. */
const GENERATED = ['console/src/api-types.ts'];

/**
 * Exports not used outside their file that are kept on purpose (none: 157 of 808 export
 * declarations when the check came in, all fixed since). A new finding fails the test: drop the
 * `export` (or the code). An entry no longer found is printed, to be deleted here.
 * `file: name`, or `file` for a file nothing imports.
 */
const KNOWN: string[] = [];

function walk(rel: string, out: string[]) {
  const abs = path.join(ROOT, rel);
  if (!fs.existsSync(abs)) return;
  if (fs.statSync(abs).isFile()) {
    out.push(rel);
    return;
  }
  for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue;
    const p = path.posix.join(rel, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.(tsx?|c?js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
}

const files = (folders: string[]) => {
  const out: string[] = [];
  for (const f of folders) walk(f, out);
  return out;
};

/** The names a file exports, each with the line it is declared on. */
function exportsOf(src: string): { name: string; line: number }[] {
  const out: { name: string; line: number }[] = [];
  const lineAt = (i: number) => src.slice(0, i).split('\n').length;
  const decl =
    /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|const|let|var|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm;
  for (const m of src.matchAll(decl)) out.push({ name: m[1], line: lineAt(m.index ?? 0) });
  for (const m of src.matchAll(/^export\s+default\s+(?!(?:async\s+)?(?:function|class)\s+[A-Za-z_$])/gm))
    out.push({ name: 'default', line: lineAt(m.index ?? 0) });
  // `export { a, b as c }` and `export type { a } from './x'`: the names after `as`.
  for (const m of src.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const part of m[1].split(',')) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) out.push({ name, line: lineAt(m.index ?? 0) });
    }
  }
  return out;
}

/** What one file takes from another: the names, or '*' for all of them (namespace, dynamic, require). */
function importsOf(src: string): { spec: string; names: string[] }[] {
  const out: { spec: string; names: string[] }[] = [];
  const stmt = /^\s*(?:import|export)\s+(?:type\s+)?([^'";]*?)\s*from\s+'(\.[^']+)'/gm;
  for (const m of src.matchAll(stmt)) {
    const clause = m[1];
    const names: string[] = [];
    if (/\*/.test(clause)) names.push('*');
    const braces = clause.match(/\{([^}]*)\}/);
    for (const part of braces?.[1].split(',') ?? []) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]
        .trim();
      if (name) names.push(name);
    }
    const dflt = clause
      .replace(/\{[^}]*\}/, '')
      .replace(/\*\s+as\s+\w+/, '')
      .replace(/,/g, ' ')
      .trim();
    if (dflt && !/^type$/.test(dflt)) names.push('default');
    out.push({ spec: m[2], names });
  }
  // import('./x').Name in a type, import('./x') and require('./x') anywhere.
  for (const m of src.matchAll(/import\(\s*'(\.[^']+)'\s*\)(?:\.([A-Za-z_$][\w$]*))?/g)) out.push({ spec: m[1], names: [m[2] ?? '*'] });
  for (const m of src.matchAll(/require\(\s*'(\.[^']+)'\s*\)/g)) out.push({ spec: m[1], names: ['*'] });
  return out;
}

function resolve(from: string, spec: string, known: Set<string>): string | undefined {
  const p = path.posix.join(path.posix.dirname(from), spec).replace(/\.js$/, '');
  return [p, `${p}.ts`, `${p}.tsx`, path.posix.join(p, 'index.ts'), path.posix.join(p, 'index.tsx'), `${p}.js`].find((c) => known.has(c));
}

/** Every export not imported by another file, and every product file no other file imports. */
function findUnused(): string[] {
  const product = files(PRODUCT).filter((f) => /\.tsx?$/.test(f));
  const all = new Set([...product, ...files(CONSUMERS)]);
  const used = new Map<string, Set<string>>();
  const importedFiles = new Set<string>();
  for (const file of all) {
    for (const { spec, names } of importsOf(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
      const to = resolve(file, spec, all);
      if (!to || to === file) continue;
      importedFiles.add(to);
      const set = used.get(to) ?? new Set<string>();
      for (const n of names) set.add(n);
      used.set(to, set);
    }
  }
  const found: string[] = [];
  for (const file of product) {
    const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const ambient = /^declare module /m.test(src);
    if (!importedFiles.has(file) && !ambient && !ENTRY_POINTS.some((re) => re.test(file))) found.push(file);
    const takers = used.get(file);
    if (takers?.has('*') || GENERATED.includes(file)) continue;
    for (const { name } of exportsOf(src)) {
      if (takers?.has(name) || ENTRY_EXPORTS.includes(`${file}: ${name}`)) continue;
      found.push(`${file}: ${name}`);
    }
  }
  return [...new Set(found)].sort();
}

describe('unused exports and files (what knip would report)', () => {
  it('the scanner reads declarations, export lists, re-exports, namespace and dynamic imports', () => {
    const src = [
      "import a, { b, type c as d } from './x';",
      "import * as ns from './y';",
      "export { e as f } from './z';",
      "type T = import('./w').W;",
      'export const g = 1;',
      'export async function h() {}',
      'export type I = string;',
      'export { j, k as l };',
      'export default class M {}',
    ].join('\n');
    expect(importsOf(src)).to.deep.equal([
      { spec: './x', names: ['b', 'c', 'default'] },
      { spec: './y', names: ['*'] },
      { spec: './z', names: ['e'] },
      { spec: './w', names: ['W'] },
    ]);
    expect(exportsOf(src).map((e) => e.name)).to.deep.equal(['g', 'h', 'I', 'M', 'f', 'j', 'l']);
  });

  it('every export of shared/, api/, worker/, cli/, app/, bin/ and console/src is imported by another file, and every file by one', () => {
    const found = findUnused();
    const fresh = found.filter((f) => !KNOWN.includes(f));
    const stale = KNOWN.filter((f) => !found.includes(f));
    if (stale.length) console.warn(`  fixed, delete from KNOWN in test/unit/exports.test.ts:\n    ${stale.join('\n    ')}`);
    const why = (f: string) => {
      const [file, name] = f.split(': ');
      if (!name) return `${f} (no file imports it)`;
      const uses =
        fs.readFileSync(path.join(ROOT, file), 'utf8').match(new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\b`, 'g'))?.length ?? 0;
      return `${f} (${uses > 1 ? 'used only in its own file: drop `export`' : 'used nowhere: delete it'})`;
    };
    expect(fresh.map(why), 'exports no other file imports, and files nothing imports').to.deep.equal([]);
  });
});
