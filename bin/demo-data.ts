import type { Deps } from '../shared/platform/deps';
import { importDomains } from '../shared/catalog/domains';
import { allowReseller } from '../shared/accounts/push-settings';
import { createReseller, getResellerByUsername } from '../shared/accounts/resellers';

/**
 * Two push-enabled resellers, authorized, and 20,000 domains for the losing one (a third locked,
 * some branded). 20,000, not 2,000: a push of all of them runs long enough (10 to 30 s on the
 * embedded database) for a person to watch its progress and cancel it while it runs; with
 * 2,000 both chunks are in a worker's hands at once, so a cancel finds nothing left to cancel.
 */
export const DEMO_DOMAINS = 20_000;

export async function seedDemo(deps: Deps, count = DEMO_DOMAINS) {
  const { db } = deps;
  if (await getResellerByUsername(db, 'losing-demo')) {
    return { alreadySeeded: true as const };
  }
  const losing = await createReseller(db, {
    username: 'losing-demo',
    name: 'Losing Demo Ltd',
    email: 'ops@losing.example',
    domain_push_enabled: true,
  });
  const gaining = await createReseller(db, {
    username: 'gaining-demo',
    name: 'Gaining Demo Inc',
    email: 'ops@gaining.example',
    domain_push_enabled: true,
  });
  const gainingRow = (await getResellerByUsername(db, 'gaining-demo'))!;
  await allowReseller(db, gainingRow, losing.company_id);
  await db('resellers').where({ id: gainingRow.id }).update({ push_notification_email: 'incoming@gaining.example' });
  const rows = Array.from({ length: count }, (_, i) => ({
    name: `demo-${String(i).padStart(5, '0')}.example`,
    reseller: 'losing-demo',
    locked: i % 3 === 0,
    brand: i % 10 === 0 ? 'Blue Brand' : i % 10 === 5 ? 'Green Brand' : undefined,
    profile: { username: `registrant${i % 50}`, password: `secret-${i % 50}`, contact: { email: `registrant${i % 50}@example.org` } },
  }));
  await importDomains(db, rows);
  return { alreadySeeded: false as const, losingKey: losing.api_key, gainingKey: gaining.api_key };
}
