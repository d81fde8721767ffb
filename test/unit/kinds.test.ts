import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { baseOptions, itemStatuses, kindTable, type BulkKindDef } from '../../shared/bulk/kind';
import { jobLinks } from '../../shared/bulk/views';
import { KINDS } from '../../shared/kinds';
import { processorsFor } from '../../worker/processors';

/** A made-up third kind: what a newcomer would write in its own folder. */
const archiveKind: BulkKindDef = {
  name: 'archive',
  jobName: 'archive-chunk',
  doneStatus: 'archived',
  reasons: {},
  options: baseOptions,
  handler: { inTake: async () => ({ deferred: [], counts: {} }) },
  path: '/v1/jobs',
  resultsTitle: () => 'Domain archive',
  labels: { noun: 'Domain archive', unit: 'domain', units: 'domains', title: () => 'Domain archive', details: () => [] },
};

const PARTS = ['name', 'jobName', 'doneStatus', 'reasons', 'options', 'handler', 'path', 'resultsTitle', 'labels'] as const;

describe('bulk kinds: one definition per kind, registered in one table', () => {
  it('the table holds push and release, each under its own name with every part', () => {
    expect(Object.keys(KINDS).sort()).to.deep.equal(['push', 'release']);
    for (const [name, kind] of Object.entries(KINDS)) {
      expect(kind.name, name).to.equal(name);
      for (const part of PARTS) expect(kind[part], `${name}.${part}`).to.not.equal(undefined);
      expect(kind.handler.inTake, `${name}.handler.inTake`).to.be.a('function');
      expect(kind.path, `${name}.path`).to.match(/^\/v1\//);
      expect(kind.options.safeParse, `${name}.options is a zod schema`).to.be.a('function');
      expect(kind.resultsTitle, `${name}.resultsTitle`).to.be.a('function');
    }
    expect(KINDS.push).to.include({ jobName: 'push-chunk', doneStatus: 'pushed', path: '/v1/bulk-pushes' });
    expect(KINDS.push.sweep, 'push relocks what it unlocked').to.not.equal(undefined);
    expect(KINDS.release).to.include({ jobName: 'release-chunk', doneStatus: 'released', path: '/v1/jobs' });
    expect(KINDS.release.finish, 'a release ends by releasing the customer').to.be.a('function');
  });

  it('every BullMQ job name has exactly one processor, and every processor a kind', () => {
    const processors = processorsFor(KINDS);
    const jobNames = Object.values(KINDS).map((k) => k.jobName);
    expect(Object.keys(processors).sort()).to.deep.equal([...jobNames].sort());
    expect(new Set(jobNames).size).to.equal(jobNames.length);
  });

  it('a kind options schema refuses what the kind cannot run', () => {
    expect(KINDS.push.options.safeParse({ email_results_to: null, apply_to_locked: 'yes' }).success).to.equal(false);
    expect(KINDS.release.options.safeParse({ email_results_to: null }).success).to.equal(false);
    expect(KINDS.release.options.safeParse({ email_results_to: null, customer_name: 'Ada', domains: 2, packages: 1 }).success).to.equal(
      true,
    );
  });

  it('a half-defined kind, a kind defined twice or a shared job name stops the table from being built', () => {
    for (const part of PARTS) {
      const broken = { ...archiveKind, [part]: undefined } as unknown as BulkKindDef;
      expect(() => kindTable([broken]), part).to.throw(/has no/);
    }
    expect(() => kindTable([archiveKind, { ...archiveKind, jobName: 'other' }])).to.throw(/defined twice/);
    expect(() => kindTable([archiveKind, { ...archiveKind, name: 'other' }])).to.throw(/job name archive-chunk/);
  });

  it('a third kind needs only its definition and its line in the table', () => {
    const table = kindTable([...Object.values(KINDS), archiveKind]);
    expect(processorsFor(table)).to.have.property('archive-chunk');
    expect(itemStatuses(table)).to.include('archived');
    expect(jobLinks(table.archive, { id: 'j1' }).self).to.equal('/v1/jobs/j1');
  });

  it('the engine (shared/bulk) imports no kind and not the table', () => {
    const dir = path.resolve(__dirname, '../../shared/bulk');
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const src = fs.readFileSync(path.join(dir, file), 'utf8');
      const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      for (const i of imports) expect(i, `${file} imports ${i}`).to.not.match(/^\.\.\/(push|customers|kinds)\b/);
    }
  });
});
