import crypto from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../platform/deps';
import { Conflict, Forbidden, InvalidRequest, Unprocessable } from '../platform/errors';
import { invalidDomainsError } from '../catalog/domain-names';
import { checkListEntries, invalidEntryText, invalidListMessage, normalizeNameList, splitDomainList } from '../catalog/domain-list';
import type { InvalidEntry } from '../catalog/domain-list';
import { checkProfileCredentials } from '../catalog/profiles';
import { getResellerByUsername, type Reseller } from '../accounts/resellers';
import { isAuthorized } from '../accounts/push-settings';
import { decideItem, domainsWithHolds, heldElsewhere } from './handler';
import { clip, email, MAX_ERROR_ENTRIES } from '../platform/validation';
import { isUniqueViolation } from '../platform/sql';
import { createBulkJob } from '../bulk/create';
import { jobLinks } from '../bulk/views';
import type { BulkDeps } from '../bulk/kind';
import type { BulkJob } from '../bulk/model';
import { pushKind } from './kind';
import { resolveStart, startFields } from '../bulk/schedule';
import type { Submitter } from '../bulk/model';
import { gainingNextCycle } from './start';
import type { PushOptions } from './options';

const profileInput = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('new') }),
  z.strictObject({
    mode: z.literal('existing'),
    domain: z.string().trim().min(1).max(253),
    username: z.string().trim().min(1).max(100),
    password: z.string().min(1).max(200),
  }),
]);

export const submitPushInput = z
  .strictObject({
    gaining_reseller: z.string().trim().toLowerCase().min(1).max(100),
    domains: z.array(z.string()).optional(),
    domain_list: z.string().optional(),
    all_domains: z.boolean().optional(),
    profile: profileInput.default({ mode: 'new' }),
    apply_to_locked: z.boolean().default(false),
    /** Omitted: the losing reseller's account email; null: no results email. */
    email_results_to: email.nullable().optional(),
    dry_run: z.boolean().default(false),
    /** true: the valid names move and each invalid entry becomes a finished `skipped`/`invalid_domain` item. */
    skip_invalid: z.boolean().default(false),
    /** How to read domain_list (shared/catalog/domain-list.ts): auto-detected unless given. */
    domain_list_format: z.enum(['auto', 'text', 'csv']).optional(),
    ...startFields,
  })
  .refine((b) => [b.domains !== undefined, b.domain_list !== undefined, b.all_domains === true].filter(Boolean).length === 1, {
    message: 'give exactly one of domains, domain_list or all_domains: true',
    path: ['domains'],
  });

type SubmitPushInput = z.infer<typeof submitPushInput>;

/** The password is never part of the hash: it must not be recoverable from anything we store. */
function requestHash(input: SubmitPushInput): string {
  const { profile, ...rest } = input;
  const safeProfile = profile.mode === 'existing' ? { ...profile, password: undefined } : profile;
  return crypto
    .createHash('sha256')
    .update(JSON.stringify({ ...rest, profile: safeProfile }))
    .digest('hex');
}

/** The domains an `all_domains` push moves: every domain the losing reseller holds, by name. */
const allDomainsOf = (losing: Reseller) => ({
  sql: 'select name from domains where reseller_id = ?',
  bindings: [losing.id],
});

/**
 * The names a push moves. `all_domains` is counted, not read: a submit writes its chunks from the
 * domains table in Postgres (`itemsFrom`), and only a dry run, which lists every item, reads them.
 */
async function domainNames(deps: Deps, losing: Reseller, input: SubmitPushInput) {
  if (input.all_domains) {
    const held = Number((await deps.db('domains').where({ reseller_id: losing.id }).first(deps.db.raw('count(*)::int as n')))?.n ?? 0);
    if (held === 0) {
      throw new InvalidRequest('all_domains: the list of domains is empty: you hold no domains, so there is nothing to push.', {
        fields: [{ path: 'body.all_domains', message: 'you hold no domains' }],
      });
    }
    const names = input.dry_run
      ? ((await deps.db('domains').where({ reseller_id: losing.id }).orderBy('name').pluck('name')) as string[])
      : [];
    return { names, held, duplicates: [] as string[], invalid: [] as InvalidEntry[] };
  }
  // A pasted list is read by lines (and columns for a CSV): errors say where each bad entry is.
  const split = input.domain_list !== undefined ? splitDomainList(input.domain_list, input.domain_list_format) : undefined;
  const given = split ? split.entries.length : input.domains!.length;
  const max = deps.config.MAX_DOMAINS_PER_JOB;
  // Refuse absurd lists before normalizing them; the exact limit applies after duplicates collapse.
  if (given > max * 2) throw new InvalidRequest(`At most ${max} domains per job.`, { max, given }, 'too_many_domains');
  const list = split ? checkListEntries(split.entries) : normalizeNameList(input.domains!);
  // skip_invalid moves the valid names, if there are any; otherwise one bad entry refuses the request.
  if (list.invalid.length && !(input.skip_invalid && list.names.length)) {
    throw invalidDomainsError(invalidListMessage(list.invalid), list.invalid);
  }
  return { names: list.names, held: list.names.length, duplicates: list.duplicates, invalid: list.invalid };
}

/** An invalid entry skipped by skip_invalid, as the item the job lists (the value as given, cut short). */
function skippedInvalid(i: InvalidEntry) {
  return { name: clip(i.value, 253), status: 'skipped', reason: 'invalid_domain', message: invalidEntryText(i) };
}

/** Duplicates as the first answer reported them, recomputed from the (identical) replayed body. */
function duplicatesOf(input: SubmitPushInput): string[] {
  if (input.all_domains) return [];
  if (input.domains) return normalizeNameList(input.domains).duplicates;
  return checkListEntries(splitDomainList(input.domain_list ?? '', input.domain_list_format).entries).duplicates;
}

/** Every submit-time rule of the spec, in one place; returns what the worker needs. */
async function checkPush(deps: Deps, losing: Reseller, input: SubmitPushInput) {
  if (input.gaining_reseller === losing.username) throw new InvalidRequest('A reseller cannot push domains to itself.');
  if (!losing.domain_push_enabled) {
    throw new Forbidden('feature_disabled', 'Domain push is not enabled for your account; ask the platform operator to enable it.');
  }
  const gaining = await getResellerByUsername(deps.db, input.gaining_reseller);
  if (!gaining) throw new Unprocessable('unknown_reseller', `No reseller named "${input.gaining_reseller}".`);
  if (!gaining.domain_push_enabled) {
    throw new Forbidden('feature_disabled', `Domain push is not enabled for the gaining reseller "${gaining.username}".`);
  }
  if (!(await isAuthorized(deps.db, gaining.id, losing.id))) {
    throw new Forbidden(
      'not_authorized',
      `"${gaining.username}" has not authorized pushes from you; they must add your company_id (${losing.company_id}) to their allowed resellers.`,
    );
  }
  // The existing profile's row is read and its password's hash started (scrypt, ~26 ms on libuv's
  // pool) before this thread reads the names (~30 ms for 50,000): the submit waits for the longer
  // of the two, not both. The answer is taken after the list's checks, so a list refused first is
  // still the answer (the profile's is dropped).
  const existing = input.profile.mode === 'existing' ? await existingProfile(deps, losing, gaining, input.profile) : undefined;
  existing?.profile.catch(() => undefined);
  const { names, held, duplicates, invalid } = await domainNames(deps, losing, input);
  if (held === 0) throw new InvalidRequest('The list of domains is empty.', { fields: [{ path: 'body.domains', message: 'empty' }] });
  const max = deps.config.MAX_DOMAINS_PER_JOB;
  if (held > max) throw new InvalidRequest(`At most ${max} domains per job; got ${held}.`, { max, given: held }, 'too_many_domains');
  const profile: PushOptions['profile'] = existing ? await existing.profile : { mode: 'new' };
  return { gaining, names, duplicates, invalid, profile };
}

/**
 * The gaining reseller's profile a push with `profile: { mode: 'existing' }` names, by its
 * credentials: the awaited call starts the check, `profile` settles with its answer (see
 * checkProfileCredentials). Guessing a gaining reseller's profile password is throttled per
 * (losing, gaining) pair: a blocked pair's refusal is that answer too, so it comes after the list's;
 * a wrong password counts as a try even when the request is refused for its list.
 */
async function existingProfile(
  deps: Deps,
  losing: Reseller,
  gaining: Reseller,
  cred: { domain: string; username: string; password: string },
): Promise<{ profile: Promise<PushOptions['profile']> }> {
  const pair = `${losing.id}:${gaining.id}`;
  try {
    await deps.authThrottle.assertAllowed('profile_password', pair);
  } catch (blocked) {
    return { profile: Promise.reject(blocked) };
  }
  const { verified } = await checkProfileCredentials(deps.db, gaining.id, cred);
  const profile = verified.then(async (found): Promise<PushOptions['profile']> => {
    if (!found) {
      await deps.authThrottle.failed('profile_password', pair, { reseller: losing.username, gaining_reseller: gaining.username });
      throw new Unprocessable(
        'invalid_profile_credentials',
        'The profile domain, username and password do not identify a profile of the gaining reseller.',
      );
    }
    return { mode: 'existing', profile_id: Number(found.id), domain: found.domain, username: found.username };
  });
  return { profile };
}

type Outcome = {
  domain: string;
  status: string;
  reason: string | null;
  was_locked: boolean;
  message?: string;
  line?: number;
  column?: number;
};

/** A skipped invalid entry in a dry run: where it was and why. */
const placeOf = (i: InvalidEntry) => ({
  message: invalidEntryText(i),
  ...(i.line ? { line: i.line } : {}),
  ...(i.column ? { column: i.column } : {}),
});

/** What the worker would do with each domain if the push ran now; changes nothing. */
async function predict(deps: Deps, losing: Reseller, names: string[], applyToLocked: boolean): Promise<Outcome[]> {
  const rows = await domainsWithHolds(deps.db, names, false);
  const byName = new Map(rows.map((r) => [r.name, { ...r, locked: r.locked || heldElsewhere(r, null) }]));
  return names.map((name) => {
    const d = byName.get(name);
    // A domain another job holds on the registry path counts as locked, as the worker sees it.
    const { status, reason } = decideItem(d, losing.id, applyToLocked);
    return { domain: name, status, reason, was_locked: reason === 'not_owned' ? false : !!d?.locked };
  });
}

type SubmitResult = { kind: 'created'; body: unknown } | { kind: 'replayed'; body: unknown } | { kind: 'dry_run'; body: unknown };

export async function submitPush(
  deps: BulkDeps,
  losing: Reseller,
  input: SubmitPushInput,
  idempotencyKey?: string,
  submittedBy?: Submitter,
): Promise<SubmitResult> {
  const hash = requestHash(input);
  // A replay answers with the job it made, whatever changed since (an authorization revoked, say).
  if (idempotencyKey && !input.dry_run) {
    const existing: BulkJob | undefined = await deps
      .db('bulk_jobs')
      .where({ losing_reseller_id: losing.id, idempotency_key: idempotencyKey })
      .first();
    if (existing) return replay(deps, existing, hash, input);
  }
  const checked = await checkPush(deps, losing, input);
  const now = deps.clock();
  const start = await resolveStart(now, input, () => gainingNextCycle(deps.db, checked.gaining.id, now));
  if (input.dry_run) {
    const items = await predict(deps, losing, checked.names, input.apply_to_locked);
    for (const i of checked.invalid)
      items.push({ domain: clip(i.value, 253), status: 'skipped', reason: 'invalid_domain', was_locked: false, ...placeOf(i) });
    const predicted: Record<string, number> = { pushed: 0, skipped: 0, failed: 0 };
    for (const i of items) predicted[i.status]++;
    return {
      kind: 'dry_run',
      body: {
        dry_run: true,
        total: items.length,
        duplicates_removed: checked.duplicates.length,
        duplicates: checked.duplicates.slice(0, MAX_ERROR_ENTRIES),
        predicted,
        start_at: start.startAt,
        items,
      },
    };
  }

  let job: BulkJob;
  try {
    job = await createBulkJob(deps, pushKind, {
      losingResellerId: losing.id,
      gainingResellerId: checked.gaining.id,
      itemNames: checked.names,
      ...(input.all_domains ? { itemsFrom: allDomainsOf(losing) } : {}),
      finishedItems: checked.invalid.map(skippedInvalid),
      idempotencyKey,
      requestHash: hash,
      startAt: start.startAt,
      submittedBy,
      options: {
        profile: checked.profile,
        apply_to_locked: input.apply_to_locked,
        skip_invalid: input.skip_invalid,
        // Results reach someone unless the submitter chose no one (null).
        email_results_to: input.email_results_to === undefined ? losing.email : input.email_results_to,
        start_after_seconds: input.start_after_seconds ?? 0,
        start_at_requested: start.requested,
        source: input.all_domains ? 'all_domains' : input.domain_list !== undefined ? 'domain_list' : 'domains',
        duplicates_removed: checked.duplicates.length,
      },
    });
  } catch (err) {
    // Two requests with the same key raced: the loser answers with the winner's job.
    if (idempotencyKey && isUniqueViolation(err)) {
      const existing = await deps.db('bulk_jobs').where({ losing_reseller_id: losing.id, idempotency_key: idempotencyKey }).first();
      if (existing) return replay(deps, existing, hash, input);
    }
    throw err;
  }
  return {
    kind: 'created',
    body: submitted(job, job.status, checked.duplicates),
  };
}

/** A replay answers the shape of the first 202 (with the job's current status), not a job view. */
async function replay(deps: BulkDeps, existing: BulkJob, hash: string, input: SubmitPushInput): Promise<SubmitResult> {
  if (existing.request_hash !== hash) {
    throw new Conflict('idempotency_conflict', 'This Idempotency-Key was already used with a different request body.');
  }
  const current = (await deps.db('bulk_jobs').where({ id: existing.id }).first('status')) ?? existing;
  return { kind: 'replayed', body: submitted(existing, current.status, duplicatesOf(input)) };
}

function submitted(job: BulkJob, status: string, duplicates: string[]) {
  // The list of duplicates is capped like error lists; duplicates_removed has the total.
  return {
    id: job.id,
    status,
    total: job.total,
    duplicates_removed: duplicates.length,
    duplicates: duplicates.slice(0, MAX_ERROR_ENTRIES),
    start_at: job.start_at,
    links: jobLinks(pushKind, job),
  };
}
