import { kindTable } from './bulk/kind';
import { releaseKind } from './customers/kind';
import { pushKind } from './push/kind';

/**
 * Every kind of bulk job, registered once. The engine (`bulk/`) never imports a kind: it is handed
 * this table (`BulkDeps.kinds`, built in `app/runtime.ts`). A new kind is a folder with a
 * `kind.ts` exporting its `BulkKindDef`, plus one entry here.
 */
export const KINDS = kindTable([pushKind, releaseKind]);
