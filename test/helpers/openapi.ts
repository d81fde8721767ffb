import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { DocumentChecker, type OpenApiDoc } from './conformance';

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

/** Checks recorded answers against the document (test/helpers/conformance.ts); returns one line per problem. */
export function checkAgainst(doc: OpenApiDoc, recorded: Recorded[]): { problems: string[]; covered: Set<string> } {
  const checker = new DocumentChecker(doc);
  const problems: string[] = [];
  const covered = new Set<string>();
  for (const r of recorded) {
    const found = checker.check({ method: r.method, path: r.path, status: r.status, contentType: r.type, body: r.body });
    problems.push(...found);
    const template = checker.templateFor(r.path);
    if (!found.length && template && doc.paths[template][r.method.toLowerCase()]) covered.add(`${r.method} ${template} ${r.status}`);
  }
  return { problems, covered };
}
