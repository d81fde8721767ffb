import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkedAddress, RefusedAddress, type Resolver } from './address-guard';

/** Response bytes read at most (the rest is dropped with the connection): an answer is its status. */
const MAX_RESPONSE_BYTES = 4096;

export interface SendResult {
  ok: boolean;
  status: number | null;
  durationMs: number;
  /** Why it failed (or the first bytes the receiver answered). */
  error: string | null;
}

interface SendOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  loopbackAllowed: boolean;
  resolve?: Resolver;
}

/**
 * One POST: the host is resolved and checked (address-guard.ts), the socket goes to the checked
 * address (a `lookup` that answers it; TLS still checks the certificate against the host name),
 * no redirect is followed (3xx is a failure), the whole exchange ends within `timeoutMs`, and at
 * most MAX_RESPONSE_BYTES of the answer are read. 2xx is delivered; anything else is a failure.
 */
export async function postWebhook(opts: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  const u = new URL(opts.url);
  let target: { address: string; family: number };
  try {
    target = await checkedAddress(u.hostname, opts.loopbackAllowed, opts.resolve);
  } catch (err) {
    const reason = err instanceof RefusedAddress ? err.message : `DNS: ${(err as Error).message}`;
    return { ok: false, status: null, durationMs: took(), error: reason };
  }
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
    else cb(null, target.address, target.family);
  };
  const client = u.protocol === 'https:' ? https : http;
  return new Promise<SendResult>((resolve) => {
    let done = false;
    const finish = (r: Omit<SendResult, 'durationMs'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...r, durationMs: took() });
    };
    const req = client.request(
      u,
      {
        method: 'POST',
        lookup,
        agent: false,
        ...(u.protocol === 'https:' ? { servername: u.hostname.replace(/^\[(.*)\]$/, '$1') } : {}),
        headers: {
          ...opts.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(opts.body),
          'user-agent': 'domain-push-webhooks/1',
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const settle = () => {
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 200);
          if (status >= 200 && status < 300) finish({ ok: true, status, error: null });
          else if (status >= 300 && status < 400)
            finish({
              ok: false,
              status,
              error: `HTTP ${status}: redirects are not followed${res.headers.location ? ` (to ${String(res.headers.location).slice(0, 200)})` : ''}`,
            });
          else finish({ ok: false, status, error: `HTTP ${status}${text ? `: ${text}` : ''}` });
        };
        res.on('data', (b: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(b.subarray(0, MAX_RESPONSE_BYTES - size));
          size += b.length;
          if (size >= MAX_RESPONSE_BYTES) settle();
        });
        res.on('end', settle);
        res.on('error', settle);
      },
    );
    const timer = setTimeout(() => finish({ ok: false, status: null, error: `timed out after ${opts.timeoutMs} ms` }), opts.timeoutMs);
    req.on('error', (err) => finish({ ok: false, status: null, error: err.message }));
    req.end(opts.body);
  });
}
