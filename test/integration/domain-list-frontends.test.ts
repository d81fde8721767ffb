import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { startSystem, type TestSystem } from '../helpers/system';
import { authorize, makeReseller, submit, type TestReseller } from '../helpers/fixtures';
import { runCli, show } from '../helpers/cli-run';
import { LIST_CASES, type ListCase } from '../helpers/domain-list-cases';
import { parseDomainList as cliParse } from '../../cli/domain-list';
import type * as DomainListModule from '../../shared/catalog/domain-list';

const ROOT = path.resolve(__dirname, '../..');

type Bad = [number, number | null, string];
interface Reading {
  names: string[];
  duplicates: string[];
  invalid: Bad[];
}

interface DryRunItem {
  domain: string;
  status: string;
  reason: string | null;
  line?: number;
  column?: number;
  message?: string;
}

/** The module the console bundles: whatever MoveForm.tsx imports the parser from, loaded as Vite would resolve it. */
function consoleParserModule(): typeof DomainListModule {
  const src = fs.readFileSync(path.join(ROOT, 'console/src/pages/MoveForm.tsx'), 'utf8');
  const spec = /import\s*\{[^}]*\bparseDomainList\b[^}]*\}\s*from\s*'([^']+)'/.exec(src)?.[1];
  expect(spec, 'MoveForm imports parseDomainList').to.be.a('string');
  return require(path.resolve(ROOT, 'console/src/pages', spec!));
}

/** What the API's dry run with skip_invalid reads: names that move, duplicates, and the skipped entries with their place. */
function fromDryRun(body: { items: DryRunItem[]; duplicates: string[] }): Reading {
  return {
    names: body.items.filter((i) => i.reason !== 'invalid_domain').map((i) => i.domain),
    duplicates: body.duplicates,
    invalid: body.items.filter((i) => i.reason === 'invalid_domain').map((i) => [i.line!, i.column ?? null, i.domain]),
  };
}

const expected = (c: ListCase): Reading => ({ names: c.names, duplicates: c.duplicates ?? [], invalid: c.invalid ?? [] });

describe('one domain list, three front ends: the API, the CLI and the console read it the same', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let losing: TestReseller;
  let dir: string;

  before(async () => {
    sys = await startSystem({ worker: false });
    losing = await makeReseller(sys, 'fe-losing');
    const gaining = await makeReseller(sys, 'fe-gaining');
    await authorize(sys, gaining, losing);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'domain-list-'));
  });
  after(async () => {
    await sys?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const formatOf = (c: ListCase) => (c.format ? { domain_list_format: c.format } : {});

  LIST_CASES.forEach((c, n) => {
    it(c.title, async () => {
      const want = expected(c);

      // The console: the module its Move form bundles.
      const consoleRead = consoleParserModule().parseDomainList(c.text, c.format);
      expect(
        {
          names: consoleRead.names,
          duplicates: consoleRead.duplicates,
          invalid: consoleRead.invalid.map((i) => [i.line, i.column ?? null, i.value]),
        },
        'console',
      ).to.deep.equal(want);

      // The API: a dry run of the pasted list, invalid entries skipped and listed with their line and column.
      const dry = await submit(sys, losing, {
        gaining_reseller: 'fe-gaining',
        domain_list: c.text,
        ...formatOf(c),
        skip_invalid: true,
        dry_run: true,
      });
      expect(dry.status, JSON.stringify(dry.body)).to.equal(200);
      expect(fromDryRun(dry.body), 'API dry run').to.deep.equal(want);
      expect(dry.body.total).to.equal(want.names.length + want.invalid.length);

      // The CLI: its own reading of the file, and the real executable's dry run (the API reads what it sends).
      const file = path.join(dir, `list-${n}.txt`);
      fs.writeFileSync(file, c.text);
      const local = cliParse(c.text, c.format ?? 'auto', file);
      expect(
        { names: local.names, duplicates: local.duplicates, invalid: local.invalid.map((i) => [i.line, i.column ?? null, i.value]) },
        'CLI parse',
      ).to.deep.equal(want);
      const format = c.format ? ['--format', c.format] : [];
      const run = await runCli({ url: sys.url, key: losing.key }, [
        '--json',
        'push',
        '--dry-run',
        '--skip-invalid',
        '--to',
        'fe-gaining',
        '--file',
        file,
        ...format,
      ]);
      expect(run.stdout, show(run)).to.match(/^\{/);
      expect(fromDryRun(JSON.parse(run.stdout)), 'CLI dry run').to.deep.equal(want);

      if (!want.invalid.length) return;
      // Without skip_invalid, the same entries refuse the request, named by line (and column) in the API and the CLI.
      const refused = await submit(sys, losing, { gaining_reseller: 'fe-gaining', domain_list: c.text, ...formatOf(c), dry_run: true });
      expect(refused.status).to.equal(400);
      expect(refused.body.error.code).to.equal('invalid_domains');
      const details = refused.body.error.details.invalid as DomainListModule.InvalidEntry[];
      expect(details.map((i) => [i.line, i.column ?? null, i.value])).to.deep.equal(want.invalid);
      expect(refused.body.error.message).to.equal(consoleParserModule().invalidListMessage(consoleRead.invalid));
      const cliRefused = await runCli({ url: sys.url, key: losing.key }, [
        'push',
        '--dry-run',
        '--to',
        'fe-gaining',
        '--file',
        file,
        ...format,
      ]);
      expect(cliRefused.code, show(cliRefused)).to.equal(2);
      for (const [line, column, value] of want.invalid) {
        expect(cliRefused.stderr).to.include(`line ${line}${column ? `, column ${column}` : ''}: "${value}"`);
      }
    });
  });
});
