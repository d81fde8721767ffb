import crypto from 'node:crypto';

/**
 * `Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the shape payment
 * APIs use). No database, no other file: the CLI's `webhooks verify` imports it too.
 */
export const SIGNATURE_HEADER = 'Webhook-Signature';
/** A signature older (or newer) than this is refused by `verifySignature` by default: replays. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function sign(secret: string, body: string, unixSeconds: number): string {
  const mac = crypto.createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

type Verdict = { ok: true; timestamp: number } | { ok: false; reason: string };

/**
 * Checks a `Webhook-Signature` value against the raw body: some `v1` must match (a rotation may
 * send several) and `t` must be within `toleranceSeconds` of `nowSeconds` (0: not checked).
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  opts: { nowSeconds?: number; toleranceSeconds?: number } = {},
): Verdict {
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  const sigs = parts.filter(([k, v]) => k === 'v1' && v).map(([, v]) => v);
  if (!Number.isInteger(t) || sigs.length === 0) return { ok: false, reason: 'the header is not "t=<seconds>,v1=<hex>"' };
  const expected = Buffer.from(sign(secret, body, t).split('v1=')[1], 'hex');
  const match = sigs.some((s) => {
    const got = Buffer.from(s, 'hex');
    return got.length === expected.length && crypto.timingSafeEqual(got, expected);
  });
  if (!match) return { ok: false, reason: 'no v1 signature matches this body and secret' };
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (tolerance > 0 && Math.abs(now - t) > tolerance)
    return { ok: false, reason: `the timestamp is ${now - t} s off (tolerance ${tolerance} s)` };
  return { ok: true, timestamp: t };
}
