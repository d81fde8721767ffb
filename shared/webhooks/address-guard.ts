import dns from 'node:dns';
import net from 'node:net';
import type { Config } from '../platform/config';
import { InvalidRequest } from '../platform/errors';

/**
 * Where webhooks may go. Only `https` URLs, except `http` to a loopback host while
 * WEBHOOK_ALLOW_INSECURE_LOOPBACK holds (default: on unless NODE_ENV=production). At delivery
 * time every address the host resolves to is checked and the connection goes to the checked
 * address (no DNS rebinding between the check and the connect).
 */
export const allowInsecureLoopback = (config: Pick<Config, 'WEBHOOK_ALLOW_INSECURE_LOOPBACK' | 'NODE_ENV'>) =>
  config.WEBHOOK_ALLOW_INSECURE_LOOPBACK ?? config.NODE_ENV !== 'production';

/** Not public: private, loopback, link-local, unique-local, CGNAT, multicast, reserved, documentation. */
const BLOCKED = new net.BlockList();
for (const [a, p] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(a, p, 'ipv4');
for (const [a, p] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED.addSubnet(a, p, 'ipv6');

const isLoopback = (ip: string) => (net.isIPv4(ip) ? ip.startsWith('127.') : ip === '::1');

/** An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it maps. */
function unmapped(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip;
}

/** Why an address may not be called, or undefined when it may. */
function refusedAddress(address: string, loopbackAllowed: boolean): string | undefined {
  const ip = unmapped(address);
  const family = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : undefined;
  if (!family) return `${address} is not an IP address`;
  if (isLoopback(ip)) return loopbackAllowed ? undefined : `${address} is a loopback address`;
  if (BLOCKED.check(ip, family)) return `${address} is a private, link-local or reserved address`;
  return undefined;
}

const hostOf = (u: URL) => u.hostname.replace(/^\[(.*)\]$/, '$1');
const isLoopbackHost = (host: string) =>
  host === 'localhost' || host.endsWith('.localhost') || (net.isIP(host) > 0 && isLoopback(unmapped(host)));

/**
 * A URL as an endpoint may hold it: https (or http to a loopback host, when allowed), no user or
 * password, no fragment, at most 2,000 characters, and not an IP literal that is refused anyway.
 * Refusals are 400 with `invalid_url`, `insecure_url` or `private_address`.
 */
export function checkEndpointUrl(config: Pick<Config, 'WEBHOOK_ALLOW_INSECURE_LOOPBACK' | 'NODE_ENV'>, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new InvalidRequest(`"${raw.slice(0, 100)}" is not a URL.`, undefined, 'invalid_url');
  }
  if (raw.length > 2000) throw new InvalidRequest('A webhook URL is at most 2,000 characters.', undefined, 'invalid_url');
  if (u.username || u.password) throw new InvalidRequest('A webhook URL may not hold a user or password.', undefined, 'invalid_url');
  if (u.hash) throw new InvalidRequest('A webhook URL may not hold a fragment (#…).', undefined, 'invalid_url');
  const loopbackAllowed = allowInsecureLoopback(config);
  const host = hostOf(u);
  if (u.protocol === 'http:') {
    if (!(loopbackAllowed && isLoopbackHost(host)))
      throw new InvalidRequest(
        loopbackAllowed ? 'Webhook URLs must be https (http only to a loopback host in development).' : 'Webhook URLs must be https.',
        undefined,
        'insecure_url',
      );
  } else if (u.protocol !== 'https:') {
    throw new InvalidRequest('Webhook URLs must be https.', undefined, 'insecure_url');
  }
  if (host === 'localhost' || host.endsWith('.localhost')) {
    if (!loopbackAllowed) throw new InvalidRequest(`${host} is a loopback host.`, undefined, 'private_address');
  } else if (net.isIP(host)) {
    const why = refusedAddress(host, loopbackAllowed);
    if (why)
      throw new InvalidRequest(
        `Webhooks are never sent to ${why.replace(/^\S+ is /, 'an address that is ')}.`,
        undefined,
        'private_address',
      );
  }
  return u.toString();
}

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;
export const systemResolver: Resolver = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

export class RefusedAddress extends Error {
  override name = 'RefusedAddress';
}

/**
 * The address to connect to for `host`: every address it resolves to must be allowed (one
 * private answer among public ones refuses the whole host), then the first is used.
 */
export async function checkedAddress(host: string, loopbackAllowed: boolean, resolve: Resolver = systemResolver) {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  const addresses = net.isIP(h) ? [{ address: h, family: net.isIP(h) }] : await resolve(h);
  if (addresses.length === 0) throw new RefusedAddress(`${h} resolves to no address`);
  for (const a of addresses) {
    const why = refusedAddress(a.address, loopbackAllowed);
    if (why) throw new RefusedAddress(`refused: ${h} resolves to ${why}`);
  }
  return addresses[0];
}
