import fs from 'node:fs';
import { openApiDocument } from '../api/docs';
import { loadConfig } from '../shared/platform/config';
import type { BulkDeps } from '../shared/bulk/kind';
import { KINDS } from '../shared/kinds';

/**
 * Prints the OpenAPI document (or writes it to the file named by the first argument) without
 * starting anything: the route table is only read, so no database or Redis is needed. The route
 * table's constructors take deps but use only the operator key until a request comes.
 */
const deps = { config: loadConfig({}, { ADMIN_API_KEY: 'openapi-document-only-key' }), kinds: KINDS } as unknown as BulkDeps;
const text = `${JSON.stringify(openApiDocument(deps), null, 2)}\n`;
if (process.argv[2]) fs.writeFileSync(process.argv[2], text);
else process.stdout.write(text);
