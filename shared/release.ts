import type { Deps } from './deps';
import type { BulkJob, ItemRow } from './jobs/model';
import { registerItemHandler } from './jobs/process';

/** Placeholder until customers (issue 3): a release job cannot be created yet. */
export async function releaseItems(_deps: Deps, _job: BulkJob, _items: ItemRow[]): Promise<void> {
  throw new Error('release jobs are not implemented yet');
}
registerItemHandler('release', releaseItems);
