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
 * Exports found unused outside their file when the check came in (157 of 808 export declarations),
 * kept until their `export` is removed (or the code, if used nowhere). The list only shrinks: a new
 * finding fails the test; an entry no longer found is printed, to be deleted here.
 * `file: name`, or `file` for a file nothing imports.
 */
const KNOWN: string[] = [
  'api/auth.ts: SessionAuth',
  'api/auth.ts: clientIp',
  'api/auth.ts: metricsDisabled',
  'api/claim-html.ts: ClaimPageData',
  'api/claim-html.ts: ClaimResult',
  'api/claim-page.ts: CLAIM_PATH',
  'api/console.ts: CONSOLE_DIST',
  'api/dashboard.ts: localFontLinks',
  'api/docs.ts: LINKS',
  'api/openapi/document.ts: OpenApiOptions',
  'api/openapi/document.ts: RouteEntry',
  'api/openapi/examples.ts: BodyExample',
  'api/openapi/operations.ts: Auth',
  'api/openapi/operations.ts: Operation',
  'api/openapi/operations.ts: Reply',
  'api/routes/route.ts: Route',
  'api/security-headers.ts: PAGE_CSP_BASE',
  'api/session-cookie.ts: BINDING_HEADER',
  'api/session-cookie.ts: BINDING_QUERY',
  'api/session-cookie.ts: HOST_SESSION_COOKIE',
  'api/session-cookie.ts: SESSION_COOKIE',
  'api/session-cookie.ts: sessionBinding',
  'api/session-cookie.ts: sessionCookieName',
  'api/sse.ts: CredentialCheck',
  'api/sse.ts: JobStreamView',
  'api/sse.ts: StreamCredential',
  'api/sse.ts: StreamLimits',
  'api/sse.ts: eventId',
  'app/runtime.ts: resolveOperatorKey',
  'bin/banner.ts: RUNNING_FILE',
  'bin/banner.ts: Running',
  'bin/build-console.ts: consoleBuildIsFresh',
  'bin/build-console.ts: consoleInputsHash',
  'bin/build-console.ts: sharedInputFiles',
  'bin/demo-data.ts: INCOMING_PROFILE',
  'bin/lifecycle.ts: ShutdownReport',
  'bin/worker-command.ts: WORKER_HEAP_ARGS',
  'cli/config.ts: DEFAULT_URL',
  'cli/http.ts: ApiErrorBody',
  'cli/http.ts: RequestOptions',
  'cli/http.ts: isApiError',
  'cli/keys.ts: KeyView',
  'cli/keys.ts: create',
  'cli/keys.ts: list',
  'cli/keys.ts: revoke',
  'cli/main.ts: buildProgram',
  'cli/main.ts: main',
  'cli/output.ts: countsText',
  'cli/output.ts: duration',
  'cli/output.ts: finishedCount',
  'cli/output.ts: outcomeOf',
  'cli/review.ts: ReviewContext',
  'cli/review.ts: reviewFigures',
  'cli/sse.ts: FollowOptions',
  'cli/sse.ts: SseEvent',
  'console/src/api.ts: ApiErrorBody',
  'console/src/api.ts: JobStatus',
  'console/src/outcome.tsx: OutcomeView',
  'console/src/outcome.tsx: Tone',
  'console/src/outcome.tsx: doneStatusOf',
  'console/src/outcome.tsx: formatCountdown',
  'console/src/outcome.tsx: segmentsOf',
  'console/src/outcome.tsx: segmentsText',
  'console/src/pages/MoveForm.tsx: TYPED_CONFIRMATION_FROM',
  'console/src/pages/MoveForm.tsx: sentenceFor',
  'console/src/router.tsx: BASE',
  'console/src/ui.tsx: JobProgress',
  'shared/accounts/api-keys.ts: CreatedVia',
  'shared/accounts/api-keys.ts: RevokedVia',
  'shared/accounts/api-keys.ts: apiKeyView',
  'shared/accounts/resellers.ts: Caller',
  'shared/accounts/resellers.ts: isCompanyIdForm',
  'shared/accounts/sessions.ts: SignInAttempt',
  'shared/accounts/sessions.ts: throttleFailedSignIn',
  'shared/bulk/chunk-names.ts: chunkName',
  'shared/bulk/chunk-names.ts: chunkNames',
  'shared/bulk/create.ts: NewBulkJob',
  'shared/bulk/fairness.ts: MAX_PRIORITY',
  'shared/bulk/kind.ts: KindLabels',
  'shared/bulk/model.ts: Access',
  'shared/bulk/model.ts: JobOptions',
  'shared/bulk/process.ts: sweep',
  'shared/bulk/quota.ts: QUOTA_RETRY_AFTER_SECONDS',
  'shared/bulk/results-email.ts: ProblemItem',
  'shared/bulk/results-email.ts: outcomeOf',
  'shared/bulk/schedule.ts: MAX_SCHEDULE_DAYS',
  'shared/bulk/schedule.ts: MAX_START_AFTER_SECONDS',
  'shared/bulk/schedule.ts: ResolvedStart',
  'shared/bulk/schedule.ts: StartRequest',
  'shared/bulk/schedule.ts: startScheduledJob',
  'shared/bulk/take.ts: Taken',
  'shared/bulk/unstarted.ts: EndedAs',
  'shared/bulk/unstarted.ts: UnstartedItem',
  'shared/bulk/views.ts: CSV_PAGE_ROWS',
  'shared/bulk/views.ts: ViewDeps',
  'shared/bulk/views.ts: itemsCsv',
  'shared/bulk/views.ts: jobView',
  'shared/bulk/views.ts: jobViews',
  'shared/catalog/brands.ts: brandView',
  'shared/catalog/domain-names.ts: NameCheck',
  'shared/catalog/domain-names.ts: NameListResult',
  'shared/catalog/domains.ts: domainsQuery',
  'shared/catalog/profiles.ts: ProfileRow',
  'shared/catalog/profiles.ts: profileView',
  'shared/catalog/registry-breaker.ts: REGISTRY_BREAKER',
  'shared/catalog/registry.ts: RegistryOp',
  'shared/customers/customers.ts: CLAIM_PAGE_DOMAINS',
  'shared/customers/kind.ts: ReleaseOptions',
  'shared/customers/kind.ts: releaseOptions',
  'shared/customers/release.ts: claimUrl',
  'shared/mail/capture.ts: Attachment',
  'shared/mail/mailer.ts: OutboundMessage',
  'shared/mail/mailer.ts: SMTP_TIMEOUT_DEFAULTS',
  'shared/mail/mailer.ts: SmtpTimeouts',
  'shared/mail/mailer.ts: sendDeadline',
  'shared/mail/outbox-summary.ts: OutboxSummary',
  'shared/mail/outbox.ts: OutboxRow',
  'shared/mail/outbox.ts: RelayOutcome',
  'shared/mail/outbox.ts: SECRET_REMOVED',
  'shared/mail/outbox.ts: leaseFor',
  'shared/mail/outbox.ts: messageIdOf',
  'shared/mail/templates.ts: ClaimInvitation',
  'shared/mail/templates.ts: NOTICE_LISTED',
  'shared/mail/templates.ts: RECEIVED_CSV_COLUMNS',
  'shared/platform/breaker.ts: BreakerState',
  'shared/platform/csv.ts: csvField',
  'shared/platform/db.ts: DB_BOUNDS_DEFAULTS',
  'shared/platform/db.ts: DbBounds',
  'shared/platform/db.ts: MIGRATIONS_DIR',
  'shared/platform/db.ts: MigrationFiles',
  'shared/platform/db.ts: knexLog',
  'shared/platform/db.ts: pgConnection',
  'shared/platform/logger.ts: AllInOneLogs',
  'shared/platform/logger.ts: LOG_FILE_CAP_BYTES',
  'shared/platform/pause-points.ts: PAUSE_POINTS',
  'shared/platform/pause-points.ts: parsePauseRules',
  'shared/platform/project-root.ts: findProjectRoot',
  'shared/platform/queues.ts: CHUNK_ATTEMPTS',
  'shared/platform/queues.ts: CHUNK_BACKOFF_MS',
  'shared/platform/queues.ts: CHUNK_JOB_OPTIONS',
  'shared/platform/redis.ts: ClusterSeeds',
  'shared/platform/redis.ts: RedisTarget',
  'shared/platform/retry.ts: ceilingFor',
  'shared/platform/retry.ts: sleep',
  'shared/platform/sql.ts: PageKey',
  'shared/platform/sql.ts: UnnestColumn',
  'shared/platform/throttle.ts: RequestInfo',
  'shared/platform/validation.ts: ERROR_VALUE_CHARS',
  'shared/platform/validation.ts: InputProblem',
  'shared/platform/validation.ts: PROTOTYPE_KEYS',
  'shared/platform/validation.ts: SETTINGS_LIMITS',
  'shared/platform/validation.ts: boundedJson',
  'shared/platform/validation.ts: encodeCursor',
  'shared/push/handler.ts: Decision',
  'shared/push/submit.ts: SubmitPushInput',
  'shared/push/submit.ts: SubmitResult',
  'worker/processors.ts: chunkResult',
];

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
