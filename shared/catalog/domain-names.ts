import { InvalidRequest } from '../platform/errors';
import { clip, MAX_ERROR_ENTRIES } from '../platform/validation';
import type { InvalidEntry } from './domain-list';

/**
 * The name rules live in ./domain-list.ts (pure, shared with the console and the CLI); this module
 * keeps the server's imports stable and adds the server's error for bad names.
 */
export {
  checkDomainName,
  normalizeDomainName,
  normalizeNameList,
} from './domain-list';

/**
 * `invalid_domains` with a bounded body: the first MAX_ERROR_ENTRIES bad entries (values and
 * reasons cut to a sane length; each with its 1-based `position`, and its `line` and `column`
 * when it came from a list) and the total, however long the submitted list was.
 */
export function invalidDomainsError(message: string, invalid: InvalidEntry[]): InvalidRequest {
  return new InvalidRequest(
    message,
    {
      invalid: invalid.slice(0, MAX_ERROR_ENTRIES).map((i) => ({ ...i, value: clip(i.value), reason: clip(i.reason) })),
      invalid_count: invalid.length,
    },
    'invalid_domains',
  );
}
