import http from 'node:http';
import type { JobStreams } from '../../api/sse';
import type { TestSystem } from './system';

/** A job's event stream held open by a test: read it while it runs, or wait for it to end. */
export interface OpenStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Everything received so far. */
  raw: () => string;
  /** The whole body, once the server ends the stream (or it is closed). */
  ended: Promise<string>;
  close(): void;
}

/** Opens `GET url` as an event stream with these headers (a bearer key, or a session cookie and its binding). */
export function openStream(url: string, headers: Record<string, string>): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (raw += d));
      const ended = new Promise<string>((ok) => {
        res.on('end', () => ok(raw));
        res.on('close', () => ok(raw));
      });
      resolve({ status: res.statusCode!, headers: res.headers, raw: () => raw, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

export const bearerHeaders = (key: string): Record<string, string> => ({ Authorization: `Bearer ${key}` });

/** The events of a stream body: id, name and parsed data (comments and retry-only blocks left out). */
export function streamEvents(raw: string): { id?: string; event?: string; data: Record<string, unknown> }[] {
  return raw
    .split('\n\n')
    .filter((b) => /^(event|data|id): /m.test(b))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return { id: field('id'), event: field('event'), data: JSON.parse(field('data') ?? 'null') };
    });
}

/** The system's stream hub (one poll per watched job), to wait until streams are released. */
export const jobStreamsOf = (sys: TestSystem): JobStreams =>
  (sys.server.listeners('request')[0] as unknown as { locals: { jobStreams: JobStreams } }).locals.jobStreams;
