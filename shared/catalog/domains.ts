import { z } from 'zod';
import type { Db } from '../platform/db';
import { Conflict, InvalidRequest, NotFound } from '../platform/errors';
import { invalidDomainsError, normalizeDomainName, normalizeNameList } from './domain-names';
import type { Reseller } from '../accounts/resellers';
import { hashPassword } from '../platform/secrets';
import { contactSchema } from './profiles';
import { settingsJson } from '../platform/validation';
import { unnest } from '../platform/sql';

const importProfile = z.union([
  z.string().min(1),
  z.strictObject({
    username: z.string().trim().min(1).max(100),
    password: z.string().min(1).max(200).optional(),
    domain: z.string().optional(),
    contact: contactSchema.optional(),
  }),
]);

const customerKey = (v: string | number) => BigInt(v).toString();

export const importDomainsInput = z
  .array(
    z.strictObject({
      name: z.string(),
      reseller: z.string().trim().min(1),
      locked: z.boolean().default(false),
      brand: z.string().trim().min(1).max(200).optional(),
      profile: importProfile.optional(),
      settings: settingsJson.optional(),
      expires_at: z.iso.datetime({ offset: true }).optional(),
      /** The registrant customer (its id); must be an active customer of that reseller. */
      customer: z
        .union([
          z
            .string()
            .trim()
            .regex(/^[0-9]{1,18}$/, 'must be a customer id'),
          z.number().int().positive(),
        ])
        .optional(),
    }),
  )
  .min(1)
  .max(100_000);

/**
 * Operator import. Brands are found or created by name under the owning reseller; profiles by
 * username (an object form creates the profile). Names already on the platform are reported, not
 * overwritten.
 */
export async function importDomains(db: Db, rows: z.infer<typeof importDomainsInput>) {
  const check = normalizeNameList(rows.map((r) => r.name));
  if (check.invalid.length) {
    throw invalidDomainsError(`${check.invalid.length} domain name(s) are not valid.`, check.invalid);
  }
  if (check.duplicates.length) {
    throw new InvalidRequest('The import lists some domains twice.', { duplicates: check.duplicates });
  }
  return db.transaction(async (trx) => {
    const handles = [...new Set(rows.map((r) => r.reseller.toLowerCase()))];
    const resellers = await trx('resellers').whereIn('username', handles).select('id', 'username');
    const resellerId = new Map(resellers.map((r) => [r.username, Number(r.id)]));
    const unknown = handles.filter((h) => !resellerId.has(h));
    if (unknown.length) throw new InvalidRequest(`Unknown reseller(s): ${unknown.join(', ')}`, { unknown }, 'unknown_reseller');

    const customerIds = [...new Set(rows.filter((r) => r.customer !== undefined).map((r) => customerKey(r.customer!)))];
    const customers = customerIds.length ? await trx('customers').whereIn('id', customerIds).select('id', 'reseller_id', 'status') : [];
    const customerById = new Map(customers.map((c) => [String(c.id), c]));
    const badCustomers = rows.flatMap((r, i) => {
      if (r.customer === undefined) return [];
      const c = customerById.get(customerKey(r.customer));
      if (c && c.status === 'active' && Number(c.reseller_id) === resellerId.get(r.reseller.toLowerCase())) return [];
      return [
        {
          position: i + 1,
          customer: customerKey(r.customer),
          reason: c?.status === 'released' ? 'customer has been released' : 'not a customer of this reseller',
        },
      ];
    });
    if (badCustomers.length)
      throw new InvalidRequest(
        "Some customers are not active customers of the domain's reseller.",
        { invalid: badCustomers },
        'unknown_customer',
      );

    const brandIds = new Map<string, number>();
    for (const key of new Set(rows.filter((r) => r.brand).map((r) => `${resellerId.get(r.reseller.toLowerCase())}\u0000${r.brand}`))) {
      const [rid, name] = key.split('\u0000');
      let brand = await trx('brands').where({ reseller_id: rid, name }).first('id');
      if (!brand)
        [brand] = await trx('brands')
          .insert({ reseller_id: rid, name, settings: JSON.stringify({ theme: name }) })
          .returning('id');
      brandIds.set(key, Number(brand.id));
    }

    const profileIds = new Map<string, number>();
    for (const r of rows) {
      if (!r.profile) continue;
      const rid = resellerId.get(r.reseller.toLowerCase())!;
      const spec = typeof r.profile === 'string' ? { username: r.profile } : r.profile;
      const key = `${rid}\u0000${spec.username}`;
      if (profileIds.has(key)) continue;
      let p = await trx('profiles').where({ reseller_id: rid, username: spec.username }).first('id');
      if (!p) {
        if (typeof r.profile === 'string') throw new InvalidRequest(`Unknown profile "${spec.username}" for reseller ${r.reseller}.`);
        const pdomain = normalizeDomainName(spec.domain ?? r.name);
        [p] = await trx('profiles')
          .insert({
            reseller_id: rid,
            username: spec.username,
            domain: pdomain.ok ? pdomain.name : r.name.toLowerCase(),
            password_hash: 'password' in spec && spec.password ? await hashPassword(spec.password) : null,
            contact: JSON.stringify(('contact' in spec && spec.contact) || {}),
          })
          .returning('id');
      }
      profileIds.set(key, Number(p.id));
    }

    const names: string[] = [];
    const owners: number[] = [];
    const locked: boolean[] = [];
    const brands: (number | null)[] = [];
    const profiles: (number | null)[] = [];
    const expires: (string | null)[] = [];
    const settings: string[] = [];
    const customerOf: (string | null)[] = [];
    rows.forEach((r, i) => {
      const rid = resellerId.get(r.reseller.toLowerCase())!;
      const pname = typeof r.profile === 'string' ? r.profile : r.profile?.username;
      names.push(check.names[i]);
      owners.push(rid);
      locked.push(r.locked);
      brands.push(r.brand ? brandIds.get(`${rid}\u0000${r.brand}`)! : null);
      profiles.push(pname ? profileIds.get(`${rid}\u0000${pname}`)! : null);
      expires.push(r.expires_at ?? null);
      settings.push(JSON.stringify(r.settings ?? {}));
      customerOf.push(r.customer === undefined ? null : customerKey(r.customer));
    });
    const values = unnest('t', {
      name: ['text', names],
      reseller_id: ['bigint', owners],
      locked: ['boolean', locked],
      brand_id: ['bigint', brands],
      profile_id: ['bigint', profiles],
      expires_at: ['timestamptz', expires],
      settings: ['jsonb', settings],
      customer_id: ['bigint', customerOf],
    });
    const inserted = await trx.raw(
      `insert into domains (name, reseller_id, locked, brand_id, profile_id, expires_at, settings, customer_id)
       select * from ${values.sql} on conflict (name) do nothing returning name`,
      values.bindings,
    );
    const got = new Set(inserted.rows.map((r: { name: string }) => r.name));
    return { imported: got.size, already_present: names.filter((n) => !got.has(n)) };
  });
}

/**
 * The reseller changes the registrant contact of its own domain (its profile's contact, shared by
 * the profile's other domains). A domain that is not the caller's, a released one included, is 404.
 */
export async function setDomainContact(db: Db, me: Reseller, name: string, contact: z.infer<typeof contactSchema>) {
  const check = normalizeDomainName(name);
  return db.transaction(async (trx) => {
    const d = check.ok
      ? await trx('domains').where({ name: check.name, reseller_id: me.id }).forUpdate().first('name', 'profile_id')
      : undefined;
    if (!d) throw new NotFound('No such domain in your account.');
    if (!d.profile_id) throw new Conflict('invalid_state', `${d.name} has no registrant profile to change; attach one first.`);
    const [p] = await trx('profiles')
      .where({ id: d.profile_id, reseller_id: me.id })
      .update({ contact: JSON.stringify(contact) })
      .returning(['id', 'username', 'contact']);
    if (!p) throw new Conflict('invalid_state', `The registrant profile of ${d.name} is not yours to change.`);
    return { name: d.name, profile: { id: String(p.id), username: p.username, contact: p.contact } };
  });
}
