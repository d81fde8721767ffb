import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../shared/platform/db';
import { importDomains } from '../shared/catalog/domains';
import { allowReseller } from '../shared/accounts/push-settings';
import { createReseller, getResellerByUsername, issueApiKey, type Reseller } from '../shared/accounts/resellers';
import { FINISHED_JOB } from '../shared/bulk/model';
import { createProfile } from '../shared/catalog/profiles';
import { hashSecret } from '../shared/platform/secrets';

/**
 * Two push-enabled resellers, authorized, and 20,000 domains for the losing one (a third locked,
 * some branded). 20,000, not 2,000: a push of all of them runs long enough (10 to 30 s on the
 * embedded database) for a person to watch its progress and cancel it while it runs; with
 * 2,000 both chunks are in a worker's hands at once, so a cancel finds nothing left to cancel.
 */
export const DEMO_DOMAINS = 20_000;
export const LOSING = 'losing-demo';
export const GAINING = 'gaining-demo';
/** The demo's API keys, kept in DATA_DIR (0600) so `npm run urls` can show them again: the database keeps only hashes. */
export const DEMO_KEYS_FILE = 'demo-keys.json';

export interface DemoKeys {
  losingKey: string;
  gainingKey: string;
}

/** The demo's domains: `demo-00000.example` …, a third locked, one in five branded, 50 registrant profiles. */
function demoRows(from: number, to: number) {
  return Array.from({ length: to - from }, (_, k) => {
    const i = from + k;
    return {
      name: demoName(i),
      reseller: LOSING,
      locked: i % 3 === 0,
      brand: i % 10 === 0 ? 'Blue Brand' : i % 10 === 5 ? 'Green Brand' : undefined,
      profile: { username: `registrant${i % 50}`, password: `secret-${i % 50}`, contact: { email: `registrant${i % 50}@example.org` } },
    };
  });
}

const demoName = (i: number) => `demo-${String(i).padStart(5, '0')}.example`;

export async function seedDemo(deps: { db: Db }, count = DEMO_DOMAINS) {
  const { db } = deps;
  if (await getResellerByUsername(db, LOSING)) {
    return { alreadySeeded: true as const };
  }
  const losing = await createReseller(db, {
    username: LOSING,
    name: 'Losing Demo Ltd',
    email: 'ops@losing.example',
    domain_push_enabled: true,
  });
  const gaining = await createReseller(db, {
    username: GAINING,
    name: 'Gaining Demo Inc',
    email: 'ops@gaining.example',
    domain_push_enabled: true,
  });
  await authorizeBothWays(db);
  await incomingProfile(db);
  const gainingRow = (await getResellerByUsername(db, GAINING))!;
  await db('resellers').where({ id: gainingRow.id }).update({ push_notification_email: 'incoming@gaining.example' });
  await importDomains(db, demoRows(0, count));
  return { alreadySeeded: false as const, losingKey: losing.api_key, gainingKey: gaining.api_key };
}

/**
 * A profile of gaining-demo a push can put domains into (`"profile": {"mode": "existing", …}`),
 * as the OpenAPI document's example does.
 */
const INCOMING_PROFILE = { domain: 'incoming.example', username: 'incoming', password: 'incoming-secret' };

async function incomingProfile(db: Db) {
  const gaining = (await getResellerByUsername(db, GAINING))!;
  if (await db('profiles').where({ reseller_id: gaining.id, username: INCOMING_PROFILE.username }).first('id')) return;
  await createProfile(db, gaining.id, { ...INCOMING_PROFILE, contact: { email: 'incoming@gaining.example' } });
}

/** Each accepts pushes from the other: gaining-demo can push the domains back, as the README shows. */
async function authorizeBothWays(db: Db) {
  const losing = (await getResellerByUsername(db, LOSING))!;
  const gaining = (await getResellerByUsername(db, GAINING))!;
  await allowReseller(db, gaining, losing.company_id);
  await allowReseller(db, losing, gaining.company_id);
}

export class DemoBusy extends Error {}

/**
 * `npm run demo:reset`: the demo as it was created, without a new database. The demo resellers
 * keep their ids, keys and job history; every demo domain (wherever a push took it) is back with
 * losing-demo, locked, branded and profiled as at creation; both push settings and authorizations
 * are restored. Refused while a job of a demo reseller is open (queued, scheduled, running,
 * suspended, cancelling): its items would race the reset.
 * Keys: the saved ones when they still work; a reseller whose saved key is missing or revoked
 * gets a new key (its other keys stay valid).
 */
export async function resetDemo(
  db: Db,
  saved: Partial<DemoKeys> | undefined,
  count = DEMO_DOMAINS,
): Promise<DemoKeys & { created: boolean }> {
  const seeded = await seedDemo({ db }, count);
  if (!seeded.alreadySeeded) return { losingKey: seeded.losingKey, gainingKey: seeded.gainingKey, created: true };
  const losing = (await getResellerByUsername(db, LOSING))!;
  const gaining = await getResellerByUsername(db, GAINING);
  if (!gaining)
    throw new Error(
      `The demo reseller ${GAINING} is missing (${LOSING} is there): remove DATA_DIR or the reseller ${LOSING} and start again.`,
    );
  const ids = [losing.id, gaining.id];
  const open = await db('bulk_jobs')
    .where((q) => q.whereIn('losing_reseller_id', ids).orWhereIn('gaining_reseller_id', ids))
    .whereNotIn('status', FINISHED_JOB)
    .orderBy('seq')
    .first('id', 'status', 'kind');
  if (open)
    throw new DemoBusy(
      `A demo job is still open (${open.kind} ${open.id}, ${open.status}): cancel it (POST /v1/jobs/${open.id}/cancel) or let it finish, then run npm run demo:reset again.`,
    );

  await db('resellers').whereIn('id', ids).update({ domain_push_enabled: true });
  await db('resellers').where({ id: gaining.id }).update({ push_notification_email: 'incoming@gaining.example' });
  await authorizeBothWays(db);
  await incomingProfile(db);
  // Names a reset cannot move back (deleted, or never created by a smaller seed) are created again.
  const all = demoRows(0, count);
  const have = new Set(
    await db('domains')
      .whereIn(
        'name',
        all.map((r) => r.name),
      )
      .pluck('name'),
  );
  const missing = all.filter((r) => !have.has(r.name));
  for (let i = 0; i < missing.length; i += 10_000) await importDomains(db, missing.slice(i, i + 10_000));
  await db.raw(
    `update domains d set
       reseller_id = :losing, locked = s.i % 3 = 0, settings = '{}', status = 'active', expires_at = null,
       customer_id = null, held_by_item = null, updated_at = now(),
       brand_id = (select b.id from brands b where b.reseller_id = :losing
                     and b.name = case s.i % 10 when 0 then 'Blue Brand' when 5 then 'Green Brand' end),
       profile_id = (select p.id from profiles p where p.reseller_id = :losing and p.username = 'registrant' || (s.i % 50))
     from (select g as i, 'demo-' || lpad(g::text, 5, '0') || '.example' as name from generate_series(0, :last) g) s
     where d.name = s.name`,
    { losing: losing.id, last: count - 1 },
  );
  return {
    losingKey: await workingKey(db, losing, saved?.losingKey),
    gainingKey: await workingKey(db, gaining, saved?.gainingKey),
    created: false,
  };
}

async function workingKey(db: Db, reseller: Reseller, key: string | undefined): Promise<string> {
  if (key) {
    const row = await db('api_keys')
      .where({ key_hash: hashSecret(key), reseller_id: reseller.id })
      .whereNull('revoked_at')
      .first('id');
    if (row) return key;
  }
  return issueApiKey(db, reseller.id);
}

/** The demo keys as saved in DATA_DIR when the demo was created (or reset); undefined when there are none. */
export function readDemoKeys(dataDir: string): DemoKeys | undefined {
  try {
    const saved = JSON.parse(fs.readFileSync(path.resolve(dataDir, DEMO_KEYS_FILE), 'utf8'));
    const losingKey = saved[LOSING];
    const gainingKey = saved[GAINING];
    return typeof losingKey === 'string' && typeof gainingKey === 'string' ? { losingKey, gainingKey } : undefined;
  } catch {
    return undefined;
  }
}

/** Kept readable by this user only (0600), like DATA_DIR/operator-key. */
export function saveDemoKeys(dataDir: string, keys: DemoKeys) {
  const file = path.resolve(dataDir, DEMO_KEYS_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const body = `${JSON.stringify({ [LOSING]: keys.losingKey, [GAINING]: keys.gainingKey, saved_at: new Date().toISOString() }, null, 2)}\n`;
  // Written beside and renamed: a reader never sees half a file, and the mode is right from the start.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, body, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}
