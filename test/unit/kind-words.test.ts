import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

/**
 * A kind owns everything about itself: the words of the two kinds (push, pushed, pushes, pushing;
 * release, released, releases, releasing; any case, inside identifiers too: `pushKind`,
 * `RELEASE_`, `bulk-pushes`) appear in code only in their folders (`shared/push/`,
 * `shared/customers/`, where the release lives) and in the files listed below, each with why.
 *
 * Scanned: the code of shared/, api/, worker/, app/, bin/, cli/ and console/src/ (.ts, .tsx):
 * identifiers and string literals. Not scanned: comments (stripped first), tests, docs, the README.
 * Not a kind's word: the product's name (`domain-push`, `DOMAIN_PUSH_URL`, `domain_push_enabled`),
 * an array's `.push(` and the browser's `history.pushState`.
 */
const ROOT = path.resolve(__dirname, '../..');
const SCANNED = ['shared', 'api', 'worker', 'app', 'bin', 'cli', 'console/src'];
const KIND_FOLDERS = /^shared\/(push|customers)\//;
const WORD = /push|releas/gi;

/** Each file that may still name a kind, and why. A file that no longer needs its entry fails the test: take it off. */
const ALLOWED: Record<string, string> = {
  // The table and the composition root: where the kinds are listed and wired.
  'shared/kinds.ts': 'the kind table: imports each kind by name',
  // The product's own words (SPEC: push settings, push authorization, the gaining notification email).
  'shared/accounts/push-settings.ts': 'push settings and push authorization are the product feature (SPEC), not the kind',
  'shared/accounts/resellers.ts': "a reseller's push_notification_email and feature switch (SPEC)",
  'api/routes/push-settings.ts': 'the push settings routes (SPEC), /v1/push-settings',
  'api/routes/resellers.ts': "the operator's summaries: enabling push for a reseller (SPEC)",
  'console/src/pages/Settings.tsx': 'the push settings page (SPEC)',
  'console/src/App.tsx': 'the "Push domain settings" menu entry (SPEC)',
  'api/openapi/document.ts': "the API's one-line summary names the product's two actions",
  'shared/platform/config.ts': 'the queue prefix hash tag `{push}` of deployed clusters (renaming it would orphan queued chunks)',
  'shared/platform/deployment.ts': 'the deployed queue prefix `{push-…}`, and "release the prefix" (an operator frees it)',
  'api/sse.ts': 'release() frees an event-stream slot: the English verb, not the kind',
  // A kind's own views: each kind brings its own routes, pages and commands (docs/architecture.md).
  'api/routes/bulk-pushes.ts': "the push's submit and its /v1/bulk-pushes views (SPEC names the path)",
  'api/app.ts': 'the submit route /v1/bulk-pushes gets its own body limit',
  'api/routes/index.ts': "mounts the push's and the release's route tables",
  'api/routes/customers.ts': "customers and the release's start route",
  'api/routes/claims.ts': 'the claim link a released customer gets',
  'api/claim-html.ts': 'the claim page a released customer sees',
  'api/routes/brands.ts': 'a brand copied by a push is read-only (catalog rule named in the summary)',
  'shared/catalog/brands.ts': 'a brand copied by a push is read-only (the refusal text)',
  'shared/catalog/domains.ts': "a released customer's domains are refused (catalog rule, its message)",
  'api/openapi/responses.ts': "the kinds' own route shapes: Submitted/DryRun (push), ReleaseAccepted, PushSettings, Customer.released_at",
  'api/openapi/examples.ts': "request examples of the kinds' own routes (push submit, release)",
  'api/openapi/operations.ts': 'tag texts of the kinds\' own route groups ("Bulk pushes", customers)',
  'api/mailbox.ts': "the operator mailbox's empty state names the emails a push or a release writes",
  'api/routes/kinds.ts': 'an example in the description of a kind\'s noun ("Bulk push")',
  // Other folders' events and audit names, in the SPEC's words (issue 21).
  'shared/events/events.ts': 'webhook event types domain.pushed_in/out, customer.released (SPEC, W1)',
  'api/routes/audit.ts': 'a description: operator actions such as push enabled (A1)',
  'cli/webhooks.ts': 'the --events help lists domain.pushed_in (W1)',
  // The CLI's and the console's own pages of a kind (push submit and review, customers' release).
  'cli/main.ts': 'the `push` command and its help (the kind brings its command)',
  'cli/commands.ts': "the push command's submit (K2 moves the rest to the job view's labels)",
  'cli/review.ts': "the push's review before submit",
  'cli/schedule.ts': "a push's --start-at/--start-after",
  'cli/exit-codes.ts': 'exit code help text in the words of the push command',
  'console/src/pages/MoveForm.tsx': "the push's form (Move to another reseller)",
  'console/src/pages/Customers.tsx': "customers and their release (the release's page)",
  'console/src/pages/Profiles.tsx': 'a lead paragraph: a push can use a profile',
  'console/src/pages/Brands.tsx': 'a brand received with pushed domains is read-only',
  'console/src/pages/Webhooks.tsx':
    "the event types it offers, in the API's names: domain.pushed_in/out, push_authorization.changed (SPEC, W1)",
  'console/src/pages/Audit.tsx': 'the action filter `push_settings.`, named "Push domain settings" like the settings page (SPEC)',
  'console/src/api.ts': 'the PushSettings type of the settings page',
  'console/src/api-types.ts': 'generated from the OpenAPI document (bin/console-types.ts): it holds the routes above',
  'bin/banner.ts': 'the demo banner shows a `curl` push of the demo domains',
  'bin/start.ts': 'the demo banner text',
  'bin/demo-data.ts': 'demo resellers with push enabled and authorized',
  'bin/demo-reset.ts': 'demo data reset: push settings of the demo resellers',
};

/** The code of a file: comments removed, strings and template literals kept. */
function codeOf(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** The kinds' words left in some code, once the product's name and the two unrelated APIs are taken out. */
function kindWords(code: string): string[] {
  const rest = code
    .replace(/domain[-_ ]?push/gi, '')
    .replace(/\.push\(/g, '.add(')
    .replace(/history\.pushState/g, 'history.state');
  return rest.match(WORD) ?? [];
}

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : files(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

describe("a kind's words stay in its folder", () => {
  it('the check reads code, not comments, and knows the product name from the kind', () => {
    expect(kindWords(codeOf('// a push\nconst a = 1; /* released */'))).to.deep.equal([]);
    expect(kindWords(codeOf("list.push(x); const url = 'domain-push'; DOMAIN_PUSH_URL; history.pushState(null, '', u);"))).to.deep.equal(
      [],
    );
    expect(kindWords(codeOf("const pushKind = 1; const s = 'Released'; const t = `bulk-pushes`;"))).to.have.length(3);
    expect(kindWords(codeOf("const s = '// not a comment: push';"))).to.have.length(1);
  });

  it('no file outside shared/push/, shared/customers/ and the allow-list names push or release in code', () => {
    const found: Record<string, number> = {};
    for (const file of SCANNED.flatMap((d) => files(path.join(ROOT, d)))) {
      const rel = path.relative(ROOT, file).split(path.sep).join('/');
      if (KIND_FOLDERS.test(rel)) continue;
      const n = kindWords(codeOf(fs.readFileSync(file, 'utf8'))).length;
      if (n) found[rel] = n;
    }
    const unexpected = Object.keys(found)
      .filter((f) => !(f in ALLOWED))
      .map((f) => `${f}: ${found[f]} word(s) of a kind (move them to the kind's folder or its def)`);
    expect(unexpected, 'files naming a kind outside its folder').to.deep.equal([]);
    const stale = Object.keys(ALLOWED).filter((f) => !(f in found));
    expect(stale, 'allow-list entries no longer needed: take them off').to.deep.equal([]);
  });
});
