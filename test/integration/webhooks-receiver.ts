import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../shared/webhooks/signature';

/** One request a receiver got, as it arrived. */
export interface Received {
  id: string;
  type: string;
  body: string;
  json: { id: string; type: string; created_at: string; data: Record<string, unknown> };
  headers: http.IncomingHttpHeaders;
  /** Whether its Webhook-Signature verified with the receiver's secret (false when none was set yet). */
  verified: boolean;
  at: number;
}

/** What to answer a request: a status, after a delay (a delay past the sender's timeout is a hang). */
export type Answer = { status: number; delayMs?: number; headers?: Record<string, string> };

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  secret: string | undefined;
  answer: (r: Received, nth: number) => Answer;
  /** The requests, de-duplicated by event id as a receiver is told to (first copy kept). */
  unique(): Map<string, Received>;
  close(): Promise<void>;
}

/** A real HTTP receiver on loopback: records every request, verifies its signature, answers as told. */
export async function startReceiver(answer: Receiver['answer'] = () => ({ status: 200 })): Promise<Receiver> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b) => chunks.push(b));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Received['json'];
      try {
        json = JSON.parse(body);
      } catch {
        res.writeHead(400).end('not json');
        return;
      }
      const sig = String(req.headers['webhook-signature'] ?? '');
      const r: Received = {
        id: String(req.headers['webhook-id'] ?? ''),
        type: json.type,
        body,
        json,
        headers: req.headers,
        verified: !!rx.secret && verifySignature(rx.secret, sig, body).ok,
        at: Date.now(),
      };
      rx.received.push(r);
      const a = rx.answer(r, rx.received.filter((x) => x.id === r.id).length);
      const reply = () => {
        if (!res.destroyed) res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers }).end(`answer ${a.status}`);
      };
      if (a.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          reply();
        }, a.delayMs);
        timers.add(t);
      } else reply();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const rx: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received: [],
    secret: undefined,
    answer,
    unique() {
      const m = new Map<string, Received>();
      for (const r of rx.received) if (!m.has(r.id)) m.set(r.id, r);
      return m;
    },
    close: () =>
      new Promise((r) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  return rx;
}
