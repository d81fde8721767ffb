import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

/**
 * The import-cycle scan of the front ends: console/ (.ts and .tsx) and cli/. The same regex scan
 * as test/unit/imports.test.ts (which covers shared/, api/, worker/ and bin/), kept apart because
 * that file's layer rule has another owner; type-only imports count (a cycle for a reader too).
 */
const ROOT = path.resolve(__dirname, '../..');
const FOLDERS = ['console/src', 'cli'];
const EXTENSIONS = ['.ts', '.tsx'];

function sources(folders = FOLDERS): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'dist' && e.name !== 'node_modules') walk(p);
      } else if (EXTENSIONS.some((x) => e.name.endsWith(x)) && !e.name.endsWith('.d.ts')) out.push(path.relative(ROOT, p));
    }
  };
  for (const f of folders) walk(path.join(ROOT, f));
  return out.sort();
}

/** Relative imports and re-exports of each file, resolved to files of the scan (.ts, .tsx, index). */
function importGraph(read: (file: string) => string = (f) => fs.readFileSync(path.join(ROOT, f), 'utf8')): Map<string, string[]> {
  const files = new Set(sources());
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = [...read(file).matchAll(/(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/g)]
      .map((m) => path.join(path.dirname(file), m[1]))
      .flatMap((p) =>
        [p, ...EXTENSIONS.map((x) => p + x), ...EXTENSIONS.map((x) => path.join(p, `index${x}`))].filter((c) => files.has(c)).slice(0, 1),
      );
    graph.set(file, targets);
  }
  return graph;
}

/** The cycles of a graph, one path each (depth-first search, colouring the path being walked). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'walking' | 'done'>();
  const pathNow: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'walking');
    pathNow.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'walking') found.push([...pathNow.slice(pathNow.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    pathNow.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

describe('imports of the console and the CLI', () => {
  it('there is no import cycle in console/ or cli/ (.ts and .tsx, type imports included)', () => {
    const graph = importGraph();
    expect([...graph.keys()].filter((f) => f.endsWith('.tsx')).length).to.be.greaterThan(10);
    expect([...graph.keys()].filter((f) => f.startsWith('cli/')).length).to.be.greaterThan(5);
    // The scan follows .tsx imports: the Domains page reaches the Move form.
    expect(graph.get('console/src/pages/Domains.tsx')).to.include('console/src/pages/MoveForm.tsx');
    expect(cycles(graph).map((c) => c.join(' -> '))).to.deep.equal([]);
  });

  it('finds the cycle the Move form used to make (it imported the Domains page that opens it)', () => {
    const moveForm = 'console/src/pages/MoveForm.tsx';
    const graph = importGraph((f) => {
      const src = fs.readFileSync(path.join(ROOT, f), 'utf8');
      return f === moveForm ? src.replace(/from '\.\/domain-view'/, "from './Domains'") : src;
    });
    expect(cycles(graph).map((c) => c.join(' -> '))).to.deep.equal([
      'console/src/pages/Domains.tsx -> console/src/pages/MoveForm.tsx -> console/src/pages/Domains.tsx',
    ]);
  });
});
