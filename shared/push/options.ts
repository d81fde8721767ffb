import { z } from 'zod';
import { baseOptions } from '../bulk/kind';

/**
 * A push job's options (`bulk_jobs.options`). The profile is the gaining reseller's, found by its
 * credentials at submit; the password is never stored.
 */
export const pushOptions = baseOptions.extend({
  profile: z
    .discriminatedUnion('mode', [
      z.object({ mode: z.literal('new') }),
      z.object({ mode: z.literal('existing'), profile_id: z.number().int(), domain: z.string(), username: z.string() }),
    ])
    .default({ mode: 'new' }),
  apply_to_locked: z.boolean().default(false),
  /** Invalid entries of the list were skipped (finished `skipped`/`invalid_domain` items) instead of refusing it. */
  skip_invalid: z.boolean().default(false),
  /** How the submitter named the domains. */
  source: z.enum(['domains', 'domain_list', 'all_domains']).optional(),
  duplicates_removed: z.number().int().default(0),
});

export type PushOptions = z.infer<typeof pushOptions>;
