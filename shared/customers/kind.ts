import { z } from 'zod';
import { baseOptions, type BulkKindDef } from '../bulk/kind';
import { claimInvitation } from './emails';
import { releaseFinished, releaseHandler } from './release';

/** What a release job shows of itself; the customer is the job's `customer_id` column. */
const releaseOptions = baseOptions.extend({
  customer_name: z.string(),
  domains: z.number().int(),
  packages: z.number().int(),
});

type ReleaseOptions = z.infer<typeof releaseOptions>;

/**
 * A customer release: every product (domain or service package) the reseller holds for the
 * customer leaves the reseller; the job's items are those products.
 */
export const releaseKind: BulkKindDef<ReleaseOptions> = {
  name: 'release',
  jobName: 'release-chunk',
  doneStatus: 'released',
  reasons: {
    not_found: 'No longer on the platform',
    not_owned: 'No longer held by the releasing reseller',
    wrong_registrant: 'Wrong registrant',
  },
  options: releaseOptions,
  handler: releaseHandler,
  finish: releaseFinished,
  path: '/v1/jobs',
  publicOptions: (job) => ({ customer_id: job.customer_id === null ? null : String(job.customer_id), ...job.options }),
  resultsTitle: () => 'Customer release',
  emails: { claimInvitation },
  chunkParty: (job, resellers) => `${resellers.losing}, customer ${job.customer_id ?? '?'}`,
  labels: {
    noun: 'Customer release',
    unit: 'product',
    units: 'products',
    title: () => 'Customer release',
    details: (o) => [
      ...(o.customer_id !== undefined ? [{ label: 'Customer', value: `${o.customer_name ?? ''} (${o.customer_id ?? '—'})`.trim() }] : []),
      ...(typeof o.domains === 'number' ? [{ label: 'Domains', value: o.domains.toLocaleString('en-US') }] : []),
      ...(typeof o.packages === 'number' ? [{ label: 'Service packages', value: o.packages.toLocaleString('en-US') }] : []),
    ],
  },
};
