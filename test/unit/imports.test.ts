import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(__dirname, '../..');
const FOLDERS = ['shared', 'api', 'worker', 'cli', 'app', 'bin', 'console/src'];

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(path.relative(ROOT, p));
    }
  };
  for (const f of FOLDERS) walk(path.join(ROOT, f));
  return out;
}

/** One import of one file: the file it names as written, and the file it resolves to. */
interface Import {
  from: string;
  spec: string;
  to: string;
}

/**
 * Every relative import and re-export, type-only and dynamic (`import('./x')`) ones included
 * (they are arrows for a reader too). `./x`, `./x.js`, `./x.ts`, `./x.tsx` and `./x/index.ts` resolve.
 */
function imports(): Import[] {
  const files = new Set(sources());
  const out: Import[] = [];
  for (const file of files) {
    const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const specs = [
      ...[...src.matchAll(/(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/g)].map((m) => m[1]),
      ...[...src.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1]),
    ];
    for (const spec of specs) {
      const p = path.join(path.dirname(file), spec).replace(/\.js$/, '');
      const to = [p, `${p}.ts`, `${p}.tsx`, path.join(p, 'index.ts')].find((c) => files.has(c));
      if (to) out.push({ from: file, spec, to });
    }
  }
  return out;
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>(sources().map((f) => [f, []]));
  for (const i of imports()) graph.get(i.from)!.push(i.to);
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

/**
 * The layers, lowest first (drawn in docs/architecture.md). A file may import its own folder and
 * any folder of a LOWER layer, never one beside it or above it: folders of one layer (the two kinds;
 * api, worker and cli) do not import each other.
 */
const LAYERS: { layer: string; folders: string[] }[] = [
  { layer: 'platform', folders: ['shared/platform'] },
  // The audit trail: anything above may record an entry.
  { layer: 'audit', folders: ['shared/audit'] },
  // The event outbox: written in the change's own transaction by every domain above it.
  { layer: 'events', folders: ['shared/events'] },
  { layer: 'accounts', folders: ['shared/accounts'] },
  { layer: 'catalog', folders: ['shared/catalog'] },
  { layer: 'mail', folders: ['shared/mail'] },
  { layer: 'webhooks', folders: ['shared/webhooks'] },
  { layer: 'bulk engine', folders: ['shared/bulk'] },
  { layer: 'kinds', folders: ['shared/push', 'shared/customers'] },
  { layer: 'kind table', folders: ['shared/kinds.ts'] },
  { layer: 'front ends', folders: ['api', 'worker', 'cli'] },
  { layer: 'composition root', folders: ['app'] },
  { layer: 'entry points', folders: ['bin'] },
];

/**
 * The console (a browser bundle) and the CLI (a client of /v1) import their own files and only
 * these pure files of shared/ (no Node, no database: the console bundles them as they are).
 */
const PURE_SHARED = [
  'shared/bulk/outcome.ts',
  'shared/catalog/domain-list.ts',
  'shared/catalog/punycode.ts',
  // The one retry policy (imports nothing): the CLI's submit retries on it.
  'shared/platform/retry.ts',
  // node:crypto only (the CLI's `webhooks verify`); the console does not import it.
  'shared/webhooks/signature.ts',
];
const CLIENTS = ['console', 'cli'];

const folderOf = (file: string) =>
  LAYERS.flatMap((l) => l.folders).find((f) => file === f || file.startsWith(`${f}/`)) ?? CLIENTS.find((c) => file.startsWith(`${c}/`));
const rankOf = (folder: string | undefined) => LAYERS.findIndex((l) => l.folders.includes(folder ?? ''));

/** Every import that breaks the layer rule, each named with its file, its import and the rule. */
function layerViolations(all: Import[]): string[] {
  const out: string[] = [];
  for (const { from, spec, to } of all) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === undefined || a === b) continue;
    if (CLIENTS.includes(a)) {
      if (!PURE_SHARED.includes(to))
        out.push(`${from} imports '${spec}' (${to}): ${a}/ may import only its own files and ${PURE_SHARED.join(', ')}`);
      continue;
    }
    if (PURE_SHARED.includes(from) && !PURE_SHARED.includes(to)) {
      out.push(`${from} imports '${spec}' (${to}): a pure file the console and the CLI bundle imports only pure files`);
      continue;
    }
    const ra = rankOf(a);
    const rb = rankOf(b);
    if (rb === -1) {
      out.push(`${from} imports '${spec}' (${to}): ${b ?? to} is in no layer; nothing in a layer imports it`);
    } else if (rb >= ra) {
      const rule =
        rb === ra
          ? `${a} and ${b} are both in the layer "${LAYERS[ra].layer}" and do not import each other`
          : `${a} (layer "${LAYERS[ra].layer}") may not import ${b} (layer "${LAYERS[rb].layer}", above it)`;
      out.push(`${from} imports '${spec}' (${to}): ${rule}; layers, lowest first: ${LAYERS.map((l) => l.folders.join(' + ')).join(' → ')}`);
    }
  }
  return out;
}

describe('imports', () => {
  it('there is no import cycle in shared/, api/, worker/, cli/, app/, bin/ or console/ (type imports included)', () => {
    const graph = importGraph();
    expect(graph.size).to.be.greaterThan(40);
    expect([...graph.keys()].filter((f) => f.startsWith('console/')).length, 'console files scanned').to.be.greaterThan(10);
    expect([...graph.keys()].filter((f) => f.startsWith('cli/')).length, 'cli files scanned').to.be.greaterThan(5);
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

  it('imports go one way, down the layers: platform → accounts → catalog → mail → bulk → kinds → kinds.ts → api/worker/cli → app → bin', () => {
    const all = imports();
    expect(all.length).to.be.greaterThan(300);
    expect(layerViolations(all)).to.deep.equal([]);
  });

  it('the layer rule names each arrow back up with its file, its import and the rule (so the check above can fail)', () => {
    const found = layerViolations([
      { from: 'shared/platform/runtime.ts', spec: '../kinds', to: 'shared/kinds.ts' },
      { from: 'shared/push/kind.ts', spec: '../customers/kind', to: 'shared/customers/kind.ts' },
      { from: 'api/app.ts', spec: '../app/runtime', to: 'app/runtime.ts' },
      { from: 'console/src/api.ts', spec: '../../shared/bulk/views', to: 'shared/bulk/views.ts' },
      { from: 'cli/output.ts', spec: '../shared/bulk/outcome', to: 'shared/bulk/outcome.ts' },
      { from: 'shared/bulk/process.ts', spec: '../platform/deps', to: 'shared/platform/deps.ts' },
    ]);
    expect(found).to.have.length(4);
    expect(found[0]).to.match(
      /^shared\/platform\/runtime\.ts imports '\.\.\/kinds' \(shared\/kinds\.ts\): shared\/platform \(layer "platform"\) may not import shared\/kinds\.ts/,
    );
    expect(found[1]).to.match(/^shared\/push\/kind\.ts imports '\.\.\/customers\/kind'.*both in the layer "kinds"/);
    expect(found[2]).to.match(/^api\/app\.ts imports '\.\.\/app\/runtime'.*layer "front ends".*layer "composition root", above it/);
    expect(found[3]).to.match(/^console\/src\/api\.ts imports '\.\.\/\.\.\/shared\/bulk\/views'.*console\/ may import only its own files/);
  });
});
