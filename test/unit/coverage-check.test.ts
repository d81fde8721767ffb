import path from 'node:path';
import { expect } from 'chai';
import { belowFloors, linesByFolder } from '../coverage-check';

const ROOT = '/repo';
const file = (rel: string, covered: number, total: number) => [path.join(ROOT, rel), { lines: { covered, total } }] as const;

describe('coverage floors per folder (test/coverage-check.ts, run by npm test after c8)', () => {
  const summary = Object.fromEntries([
    ['total', { lines: { covered: 0, total: 0 } }],
    file('shared/push/billing.ts', 10, 10),
    file('shared/bulk/outcome.ts', 8, 10),
    file('api/app.ts', 95, 100),
    file('cli/main.ts', 40, 50),
    file('outside.ts', 0, 10),
  ]);

  it('adds up the lines of every file under a top folder; files at the root and the total are left out', () => {
    expect(Object.fromEntries(linesByFolder(summary, ROOT))).to.deep.equal({
      shared: { covered: 18, total: 20 },
      api: { covered: 95, total: 100 },
      cli: { covered: 40, total: 50 },
    });
  });

  it('a folder under its floor fails, named with its figure; one at or above passes', () => {
    const byFolder = linesByFolder(summary, ROOT);
    expect(belowFloors(byFolder, { shared: 90, api: 95 })).to.deep.equal([]);
    expect(belowFloors(byFolder, { shared: 90, api: 90, cli: 90 })).to.deep.equal([
      'cli/: lines 80.00 % (40/50) is below its floor of 90 %',
    ]);
  });

  it('a floor for a folder with no file in the report fails (a renamed folder does not pass silently)', () => {
    expect(belowFloors(linesByFolder(summary, ROOT), { worker: 50 })).to.deep.equal([
      'worker/: no file in the coverage report (floor 50 %)',
    ]);
  });
});
