/**
 * Line coverage per top folder, checked after `c8 npm run test:all` (`npm test`). c8 checks one
 * global figure or every file alone (`--per-file`, far too strict for glue files); neither says
 * "shared/ keeps 90 %". This reads c8's json-summary report and fails, naming each folder that
 * dropped below its floor. The floors sit in .c8rc.json under `perFolderLines`.
 *
 *   node --import tsx test/coverage-check.ts [coverage/coverage-summary.json]
 *
 * Folders without a floor are printed too, so a run shows where coverage stands everywhere.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

interface Totals {
  total: number;
  covered: number;
}

/** Lines per top folder (`shared`, `api`…) from a c8/istanbul json-summary keyed by absolute file path. */
export function linesByFolder(summary: Record<string, { lines: Totals }>, root = ROOT): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const [file, figures] of Object.entries(summary)) {
    if (file === 'total') continue;
    const rel = path.relative(root, file);
    if (rel.startsWith('..') || !rel.includes(path.sep)) continue;
    const folder = rel.split(path.sep)[0];
    const t = out.get(folder) ?? { total: 0, covered: 0 };
    t.total += figures.lines.total;
    t.covered += figures.lines.covered;
    out.set(folder, t);
  }
  return out;
}

const pct = (t: Totals) => (t.total === 0 ? 100 : (100 * t.covered) / t.total);

/** One line per folder under its floor, empty when every floor holds. A floor with no file at all fails too (a renamed folder must not pass silently). */
export function belowFloors(byFolder: Map<string, Totals>, floors: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [folder, floor] of Object.entries(floors)) {
    const t = byFolder.get(folder);
    if (!t) out.push(`${folder}/: no file in the coverage report (floor ${floor} %)`);
    else if (pct(t) < floor)
      out.push(`${folder}/: lines ${pct(t).toFixed(2)} % (${t.covered}/${t.total}) is below its floor of ${floor} %`);
  }
  return out;
}

function main() {
  const file = path.resolve(process.argv[2] ?? path.join(ROOT, 'coverage/coverage-summary.json'));
  const config = JSON.parse(fs.readFileSync(path.join(ROOT, '.c8rc.json'), 'utf8')) as { perFolderLines?: Record<string, number> };
  const floors = config.perFolderLines ?? {};
  if (!fs.existsSync(file)) {
    console.error(`coverage-check: ${path.relative(ROOT, file)} is missing: run the tests under c8 with the json-summary reporter first`);
    process.exit(1);
  }
  const byFolder = linesByFolder(JSON.parse(fs.readFileSync(file, 'utf8')));
  for (const [folder, t] of [...byFolder].sort(([a], [b]) => a.localeCompare(b))) {
    const floor = floors[folder];
    console.log(
      `${`${folder}/`.padEnd(10)} lines ${pct(t).toFixed(2).padStart(6)} % (${t.covered}/${t.total})${floor === undefined ? '' : `, floor ${floor} %`}`,
    );
  }
  const failures = belowFloors(byFolder, floors);
  for (const f of failures) console.error(`coverage-check: ${f}`);
  process.exit(failures.length ? 1 : 0);
}

if (require.main === module) main();
