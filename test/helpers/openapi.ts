import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';

export interface Recorded {
  method: string;
  path: string;
  status: number;
  type: string;
  body: string;
}

/**
 * Serves an app and records every answer as it went on the wire (status, content type, body), so
 * a test can check real responses against the OpenAPI document without touching the app.
 */
export async function recordingServer(app: Express): Promise<{ server: Server; url: string; recorded: Recorded[] }> {
  const recorded: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const keep = (chunk: unknown) => {
      if (typeof chunk === 'string' || chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk as string));
    };
    // Wrapping the two writers: their overloads are not worth restating here.
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
    (res as unknown as { write: unknown }).write = (chunk: unknown, ...rest: unknown[]) => {
      keep(chunk);
      return write(chunk, ...rest);
    };
    (res as unknown as { end: unknown }).end = (chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'function') keep(chunk);
      recorded.push({
        method: req.method!,
        path: req.url!.split('?')[0],
        status: res.statusCode,
        type: String(res.getHeader('content-type') ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      return end(chunk, ...rest);
    };
    app(req, res);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, recorded };
}

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };

/** The document's path template for a concrete path: literal segments beat parameters. */
export function templateFor(doc: Doc, path: string): string | undefined {
  const candidates = Object.keys(doc.paths).filter((t) =>
    new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  );
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0];
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** Checks recorded answers against the document; returns one line per problem. */
export function checkAgainst(doc: Doc, recorded: Recorded[]): { problems: string[]; covered: Set<string> } {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc as object, 'doc');
  const problems: string[] = [];
  const covered = new Set<string>();
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  for (const r of recorded) {
    const where = `${r.method} ${r.path} → ${r.status}`;
    const template = templateFor(doc, r.path);
    const op = template ? doc.paths[template][r.method.toLowerCase()] : undefined;
    if (!template || !op) {
      problems.push(`${where}: no such operation in the document`);
      continue;
    }
    const reply = op.responses[String(r.status)];
    if (!reply) {
      problems.push(`${where}: status ${r.status} is not documented for ${r.method} ${template}`);
      continue;
    }
    covered.add(`${r.method} ${template} ${r.status}`);
    const mediaType = r.type.split(';')[0].trim();
    if (r.status === 204) continue;
    if (!reply.content?.[mediaType]) {
      problems.push(`${where}: content type ${mediaType} is not documented`);
      continue;
    }
    if (mediaType !== 'application/json') continue;
    const ref = `doc#/${pointer('paths', template, r.method.toLowerCase(), 'responses', String(r.status), 'content', 'application/json', 'schema')}`;
    const validate = compiled.get(ref) ?? ajv.compile({ $ref: ref });
    compiled.set(ref, validate);
    if (!validate(JSON.parse(r.body)))
      problems.push(`${where}: ${ajv.errorsText(validate.errors, { separator: '; ' })} in ${r.body.slice(0, 300)}`);
  }
  return { problems, covered };
}
