import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(__dirname, '../..');
const FOLDERS = ['shared', 'api', 'worker', 'bin'];

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(path.relative(ROOT, p));
    }
  };
  for (const f of FOLDERS) walk(path.join(ROOT, f));
  return out;
}

/** Every relative import and re-export, type-only ones included (they are cycles for a reader too). */
function importGraph(): Map<string, string[]> {
  const files = new Set(sources());
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const targets = [...src.matchAll(/(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/g)]
      .map((m) => path.join(path.dirname(file), m[1]))
      .flatMap((p) => [`${p}.ts`, path.join(p, 'index.ts')].filter((c) => files.has(c)).slice(0, 1));
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

describe('imports', () => {
  it('there is no import cycle in shared/, api/, worker/ or bin/ (type imports included)', () => {
    const graph = importGraph();
    expect(graph.size).to.be.greaterThan(40);
    expect(cycles(graph).map((c) => c.join(' -> '))).to.deep.equal([]);
  });

  it('the cycle finder finds a cycle (so the check above can fail)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(cycles(graph)).to.deep.equal([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });
});
