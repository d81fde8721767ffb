import { randomUUID } from 'node:crypto';
import type { Config } from '../platform/config';
import type { Db } from '../platform/db';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { delayFor, type RetryPolicy, sleep } from '../platform/retry';
import { queueEmail } from '../mail/outbox';
import { allowInsecureLoopback, type Resolver } from './address-guard';
import { giveUpPending } from './endpoints';
import { openSecret } from './secret-box';
import { postWebhook, type SendResult } from './send';
import { SIGNATURE_HEADER, sign } from './signature';

interface WebhookRelayDeps {
  db: Db;
  config: Config;
  log: Logger;
  /** DNS for the address guard (tests answer a private address for a name). */
  resolve?: Resolver;
  clock?: () => Date;
  metrics?: Pick<Metrics, 'webhookDeliveries' | 'webhookLag'>;
}

/** The one retry policy, shaped by config: full jitter, WEBHOOK_MAX_ATTEMPTS tries, then given up. */
const webhookRetry = (config: Config): RetryPolicy => ({
  attempts: config.WEBHOOK_MAX_ATTEMPTS,
  baseMs: config.WEBHOOK_RETRY_BASE_MS,
  factor: 2,
  capMs: config.WEBHOOK_RETRY_CAP_MS,
  jitter: 'full',
});

/** An endpoint lease outlasts a send's timeout twice over, plus a second (like the email outbox's). */
const webhookLeaseMs = (config: Config) => 2 * config.WEBHOOK_TIMEOUT_MS + 1_000;

/** Deliveries (and ms) one lane sends to one endpoint before it lets the endpoint go (others get their turn). */
const BURST = 50;
const BURST_MS = 1_000;
/** A relay pass takes no new endpoint after this long. */
const PASS_MS = 5_000;

interface Due {
  id: string;
  event_id: string;
  attempts: number;
  type: string;
  data: unknown;
  created_at: Date;
  job_id: string | null;
}

interface Leased {
  id: string;
  url: string;
  secret_box: string;
  reseller_id: string;
}

/**
 * Sends due webhook deliveries. Each endpoint is leased by one lane at a time (per-endpoint
 * concurrency 1, whichever worker) under a token of that lease; the lease is checked and renewed
 * by an owner-scoped update right before each send and every outcome is written owner-scoped, so a
 * relay paused past its lease sends nothing more and writes nothing. Up to WEBHOOK_CONCURRENCY
 * endpoints are served at once, so a slow receiver holds one lane (at most its timeout per send),
 * never the others. A job's deliveries to an endpoint go in event order: one waits while an earlier
 * one of the same job is still pending there. Sends to one endpoint are spaced by
 * 1 / WEBHOOK_RATE_PER_SECOND.
 */
export async function relayWebhooks(deps: WebhookRelayDeps): Promise<{ delivered: number; failed: number }> {
  const { config } = deps;
  if (Date.now() - lastPurge > PURGE_EVERY_MS) {
    lastPurge = Date.now();
    await purgeWebhookLog(deps.db, config.WEBHOOK_LOG_RETENTION_DAYS);
  }
  const lanes = config.WEBHOOK_CONCURRENCY;
  // A pass takes no new endpoint after this: a worker's stop waits for at most this plus one send.
  const deadline = Date.now() + PASS_MS;
  let delivered = 0;
  let failed = 0;
  const queue: string[] = [];
  let refill: Promise<string[]> | null = null;
  const inHand = new Set<string>();
  // Served this pass with nothing sent (its due delivery waits behind an earlier one of its job): not again this pass.
  const idle = new Set<string>();
  const next = async (): Promise<string | undefined> => {
    for (;;) {
      const id = queue.shift();
      if (id !== undefined) return id;
      if (Date.now() > deadline) return undefined;
      // One query refills the queue for every lane; a lane finding it empty asks again, so a
      // lane freed by a fast receiver moves on while another lane waits on a slow one.
      refill ??= readyEndpoints(deps, lanes * 4).finally(() => (refill = null));
      const ready = (await refill).filter((e) => !inHand.has(e) && !idle.has(e) && !queue.includes(e));
      if (ready.length === 0) return undefined;
      queue.push(...ready);
    }
  };
  const lane = async () => {
    for (let id = await next(); id !== undefined; id = await next()) {
      inHand.add(id);
      try {
        const r = await serveEndpoint(deps, id);
        delivered += r.delivered;
        failed += r.failed;
        if (r.delivered + r.failed === 0) idle.add(id);
      } finally {
        inHand.delete(id);
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return { delivered, failed };
}

const PURGE_EVERY_MS = 3_600_000;
let lastPurge = 0;

/**
 * The delivery log's retention: delivered and given-up deliveries older than `days`, and events
 * no delivery names any more. Pending ones stay, however old. Each worker runs it hourly.
 */
export async function purgeWebhookLog(db: Db, days: number): Promise<{ deliveries: number; events: number }> {
  const deliveries = await db('webhook_deliveries')
    .whereIn('status', ['delivered', 'failed'])
    .where('created_at', '<', db.raw(`now() - (? * interval '1 day')`, [days]))
    .del();
  const events = await db('events as e')
    .where('e.created_at', '<', db.raw(`now() - (? * interval '1 day')`, [days]))
    .whereNotExists((b) => b.select(db.raw('1')).from('webhook_deliveries as d').whereRaw('d.event_id = e.id'))
    .del();
  return { deliveries, events };
}

/** Endpoints with a due delivery, not leased, not held back by their rate bound: the longest-waiting first. */
async function readyEndpoints(deps: WebhookRelayDeps, limit: number): Promise<string[]> {
  const { rows } = await deps.db.raw(
    `select w.id from webhook_endpoints w
     where w.enabled and w.next_send_at <= clock_timestamp() and (w.lease_until is null or w.lease_until < clock_timestamp())
       and exists (select 1 from webhook_deliveries d where d.endpoint_id = w.id and d.status = 'pending' and d.next_attempt_at <= clock_timestamp())
     order by (select min(d.next_attempt_at) from webhook_deliveries d where d.endpoint_id = w.id and d.status = 'pending')
     limit ?`,
    [limit],
  );
  return rows.map((r: { id: string | number }) => String(r.id));
}

/**
 * The next delivery of a leased endpoint that may go now — due, and no earlier one of its job
 * still pending there — fenced (the endpoint's lease still ours and not run out: renewed for the
 * send) and its try counted, in one statement. Undefined: nothing due, or the lease is lost.
 */
async function takeHead(db: Db, endpointId: string, owner: string, leaseMs: number): Promise<Due | undefined> {
  return (
    await db.raw(
      `with l as (
         update webhook_endpoints set lease_until = clock_timestamp() + (? * interval '1 millisecond')
         where id = ? and lease_owner = ? and lease_until > clock_timestamp() and enabled returning id),
       h as (
         select d.id from webhook_deliveries d
         where d.endpoint_id = ? and d.status = 'pending' and d.next_attempt_at <= clock_timestamp() and exists (select 1 from l)
           and (d.job_id is null or not exists (
             select 1 from webhook_deliveries p
             where p.endpoint_id = d.endpoint_id and p.job_id = d.job_id and p.status = 'pending' and p.event_seq < d.event_seq))
         order by d.event_seq limit 1),
       t as (
         update webhook_deliveries d set attempts = attempts + 1, last_attempt_at = clock_timestamp()
         from h where d.id = h.id and d.status = 'pending' returning d.id, d.event_id, d.attempts, d.job_id)
       select t.*, e.type, e.data, e.created_at from t join events e on e.id = t.event_id`,
      [leaseMs, endpointId, owner, endpointId],
    )
  ).rows[0];
}

async function serveEndpoint(deps: WebhookRelayDeps, endpointId: string) {
  const { db, config, log } = deps;
  const owner = randomUUID();
  const leaseMs = webhookLeaseMs(config);
  const endpoint: Leased | undefined = (
    await db.raw(
      `update webhook_endpoints set lease_owner = ?, lease_until = clock_timestamp() + (? * interval '1 millisecond')
       where id = ? and enabled and next_send_at <= clock_timestamp() and (lease_until is null or lease_until < clock_timestamp())
       returning id, url, secret_box, reseller_id`,
      [owner, leaseMs, endpointId],
    )
  ).rows[0];
  const out = { delivered: 0, failed: 0 };
  if (!endpoint) return out;
  const spacingMs = Math.ceil(1000 / config.WEBHOOK_RATE_PER_SECOND);
  try {
    let secret: string;
    try {
      secret = openSecret(config, endpoint.secret_box);
    } catch (err) {
      log.error({ endpoint_id: endpoint.id, err: (err as Error).message }, 'webhook secret cannot be opened (WEBHOOK_SECRET_KEY changed?)');
      return out;
    }
    const burstEnds = Date.now() + BURST_MS;
    let lastSend = 0;
    for (let i = 0; i < BURST && Date.now() < burstEnds; i++) {
      const wait = lastSend + spacingMs - Date.now();
      if (wait > 0) await sleep(wait);
      const due = await takeHead(db, endpoint.id, owner, leaseMs);
      if (!due) break;
      lastSend = Date.now();
      const attempts = Number(due.attempts);
      const body = JSON.stringify({ id: due.event_id, type: due.type, created_at: new Date(due.created_at).toISOString(), data: due.data });
      const t = Math.floor((deps.clock?.() ?? new Date()).getTime() / 1000);
      const result = await postWebhook({
        url: endpoint.url,
        body,
        headers: {
          'Webhook-Id': due.event_id,
          'Webhook-Event': due.type,
          'Webhook-Attempt': String(attempts),
          [SIGNATURE_HEADER]: sign(secret, body, t),
        },
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        loopbackAllowed: allowInsecureLoopback(config),
        resolve: deps.resolve,
      });
      deps.metrics?.webhookDeliveries.inc({ outcome: result.ok ? 'delivered' : 'failed' });
      if (result.ok) deps.metrics?.webhookLag.observe((Date.now() - new Date(due.created_at).getTime()) / 1000);
      if (result.ok) {
        await markDelivered(db, endpoint.id, owner, due.id, result);
        out.delivered++;
      } else {
        out.failed++;
        const disabled = await markFailed(deps, endpoint, owner, due, attempts, result);
        if (disabled) return out;
        break; // A failing receiver gets no more this turn; others of its jobs wait behind it anyway.
      }
    }
  } finally {
    await db.raw(
      `update webhook_endpoints set lease_owner = null, lease_until = null,
         next_send_at = greatest(next_send_at, clock_timestamp() + (? * interval '1 millisecond'))
       where id = ? and lease_owner = ?`,
      [spacingMs, endpoint.id, owner],
    );
  }
  return out;
}

async function markDelivered(db: Db, endpointId: string, owner: string, deliveryId: string, r: SendResult) {
  // One statement: the endpoint's failure run ends and the delivery is marked, only while the lease is ours.
  await db.raw(
    `with ep as (update webhook_endpoints set failing_since = null where id = ? and lease_owner = ? returning id)
     update webhook_deliveries set status = 'delivered', delivered_at = clock_timestamp(), response_status = ?, duration_ms = ?, last_error = null
     where id = ? and status = 'pending' and exists (select 1 from ep)`,
    [endpointId, owner, r.status, r.durationMs, deliveryId],
  );
}

/**
 * A failed send: retried after the policy's pause, or given up after WEBHOOK_MAX_ATTEMPTS tries.
 * An endpoint whose failures started WEBHOOK_DISABLE_AFTER_MS ago or more is disabled, its
 * pending deliveries given up, and its owner emailed (through the outbox, same transaction).
 * Answers whether it disabled the endpoint.
 */
async function markFailed(deps: WebhookRelayDeps, endpoint: Leased, owner: string, due: Due, attempts: number, r: SendResult) {
  const { config, log } = deps;
  const policy = webhookRetry(config);
  const givenUp = attempts >= policy.attempts;
  const pauseMs = delayFor(policy, attempts - 1);
  log.warn(
    { endpoint_id: endpoint.id, delivery_id: due.id, event_id: due.event_id, attempts, status: r.status, err: r.error, given_up: givenUp },
    'webhook delivery failed',
  );
  return deps.db.transaction(async (trx) => {
    const ep = (
      await trx.raw(
        `update webhook_endpoints set failing_since = coalesce(failing_since, clock_timestamp())
         where id = ? and lease_owner = ?
         returning failing_since, failing_since <= clock_timestamp() - (? * interval '1 millisecond') as past_bound`,
        [endpoint.id, owner, config.WEBHOOK_DISABLE_AFTER_MS],
      )
    ).rows[0];
    if (!ep) return false;
    await trx('webhook_deliveries')
      .where({ id: due.id, status: 'pending' })
      .update({
        status: givenUp ? 'failed' : 'pending',
        response_status: r.status,
        duration_ms: r.durationMs,
        last_error: `${r.error ?? 'failed'}${givenUp ? ` (given up after ${attempts} tries)` : ''}`.slice(0, 1000),
        next_attempt_at: trx.raw(`clock_timestamp() + (? * interval '1 millisecond')`, [pauseMs]),
      });
    if (!ep.past_bound) return false;
    const reason = `failing since ${new Date(ep.failing_since).toISOString()}; last: ${r.error ?? 'failed'}`.slice(0, 500);
    const [disabled] = await trx('webhook_endpoints')
      .where({ id: endpoint.id })
      .update({ enabled: false, disabled_reason: reason, disabled_at: trx.raw('clock_timestamp()'), lease_owner: null, lease_until: null })
      .returning(['id', 'disabled_at']);
    await giveUpPending(trx, endpoint.id, 'endpoint disabled');
    const reseller = await trx('resellers').where({ id: endpoint.reseller_id }).first('email', 'username');
    if (reseller?.email)
      await queueEmail(trx, {
        dedupeKey: `webhook-disabled-${endpoint.id}-${new Date(disabled.disabled_at).getTime()}`,
        to: reseller.email,
        subject: 'Webhook endpoint disabled after failing for a day',
        text: [
          `Hello ${reseller.username},`,
          '',
          `Your webhook endpoint ${endpoint.url} (id ${endpoint.id}) failed every delivery for ${Math.round(config.WEBHOOK_DISABLE_AFTER_MS / 60_000)} minutes and has been disabled.`,
          `Last failure: ${r.error ?? 'failed'}`,
          '',
          'Fix the receiver, then enable the endpoint again (console Webhooks page, PATCH /v1/webhooks/:id {"enabled": true}',
          'or `domain-push webhooks update <id> --enable`) and redeliver what it missed from its delivery log.',
        ].join('\n'),
      });
    log.warn({ endpoint_id: endpoint.id, reason }, 'webhook endpoint disabled');
    return true;
  });
}
