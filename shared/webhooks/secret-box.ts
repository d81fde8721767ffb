import crypto from 'node:crypto';
import type { Config } from '../platform/config';
import { Unavailable } from '../platform/errors';

/**
 * An endpoint's signing secret must be readable to sign, so it is encrypted, not hashed (the API
 * key helpers of platform/secrets.ts hash). AES-256-GCM under a key derived from
 * WEBHOOK_SECRET_KEY; unset (development), a built-in key, and the worker warns at start.
 * Stored as `v1:<iv>:<tag>:<ciphertext>`, base64url.
 */
const DEV_KEY = 'domain-push development webhook secret key (set WEBHOOK_SECRET_KEY)';

const keyOf = (config: Pick<Config, 'WEBHOOK_SECRET_KEY'>) =>
  crypto
    .createHash('sha256')
    .update(config.WEBHOOK_SECRET_KEY ?? DEV_KEY)
    .digest();

/**
 * A production deployment seals secrets under its own key only: the built-in key is in the source,
 * so a secret sealed under it would be readable to anyone holding a database copy. Without
 * WEBHOOK_SECRET_KEY, creating an endpoint answers 503 `webhooks_not_configured`, naming the setting.
 */
export function assertSealable(config: Pick<Config, 'WEBHOOK_SECRET_KEY' | 'NODE_ENV'>): void {
  if (config.NODE_ENV === 'production' && !config.WEBHOOK_SECRET_KEY) {
    throw new Unavailable(
      'webhooks_not_configured',
      'Webhooks are off on this deployment: the operator has not set WEBHOOK_SECRET_KEY (32 characters or more).',
    );
  }
}

export function newWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64url')}`;
}

export function sealSecret(config: Pick<Config, 'WEBHOOK_SECRET_KEY'>, secret: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', keyOf(config), iv);
  const ct = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join(':');
}

/** The secret back; throws when the box was sealed under another key (WEBHOOK_SECRET_KEY changed). */
export function openSecret(config: Pick<Config, 'WEBHOOK_SECRET_KEY'>, box: string): string {
  const [v, iv, tag, ct] = box.split(':');
  if (v !== 'v1' || !iv || !tag || !ct) throw new Error('webhook secret box has an unknown format');
  const decipher = crypto.createDecipheriv('aes-256-gcm', keyOf(config), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}
