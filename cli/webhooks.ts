import fs from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_TOLERANCE_SECONDS, verifySignature } from '../shared/webhooks/signature';
import { readConfig } from './config';
import { EXIT, refused, type ExitCode } from './exit-codes';
import { ApiClient } from './http';
import { table } from './output';

/** What a command may touch (the same Io as commands.ts). */
interface Io {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}
interface GlobalOptions {
  json?: boolean;
  url?: string;
}

interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  secret_prefix: string;
}
interface DeliveryView {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  response_status: number | null;
  duration_ms: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
}

const out = (io: Io, s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (io: Io, s: string) => io.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const client = (io: Io, g: GlobalOptions) => new ApiClient(readConfig(io.env, g.url));
const when = (ts: string | null) => (ts ? `${ts.slice(0, 19).replace('T', ' ')}Z` : '-');
const idArg = (id: string, what = 'webhook id') => {
  if (!/^[0-9]{1,18}$/.test(id)) throw refused(`"${id}" is not a ${what}: run domain-push webhooks list for the ids.`);
  return id;
};
const eventsOf = (csv: string) =>
  csv
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function printEndpoint(io: Io, g: GlobalOptions, e: EndpointView) {
  if (g.json) return out(io, JSON.stringify(e));
  out(
    io,
    [
      `Webhook ${e.id}: ${e.url}${e.description ? ` (${e.description})` : ''}`,
      `  events:  ${e.event_types.join(', ')}`,
      `  status:  ${e.enabled ? 'enabled' : `disabled: ${e.disabled_reason ?? ''}`}${e.failing_since ? `, failing since ${when(e.failing_since)}` : ''}`,
      `  secret:  ${e.secret_prefix}…`,
    ].join('\n'),
  );
}

async function list(io: Io, g: GlobalOptions): Promise<ExitCode> {
  const api = client(io, g);
  const items: EndpointView[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const { body }: { body: { items: EndpointView[]; next_cursor: string | null } } = await api.json('GET', `/v1/webhooks?${params}`);
    items.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor);
  if (g.json) out(io, JSON.stringify({ items }));
  else
    out(
      io,
      table(
        ['ID', 'URL', 'EVENTS', 'STATUS'],
        items.map((e) => [
          e.id,
          e.url,
          e.event_types.join(','),
          e.enabled ? (e.failing_since ? 'enabled, failing' : 'enabled') : 'disabled',
        ]),
      ),
    );
  return EXIT.ok;
}

/** `webhooks create`: the signing secret alone goes to stdout (once: it is never shown again), the rest to stderr. */
async function create(io: Io, g: GlobalOptions, o: { url: string; events: string; description?: string; disabled?: boolean }) {
  const { body } = await client(io, g).json<EndpointView & { secret: string }>('POST', '/v1/webhooks', {
    body: {
      url: o.url,
      event_types: eventsOf(o.events),
      ...(o.description ? { description: o.description } : {}),
      ...(o.disabled ? { enabled: false } : {}),
    },
  });
  if (g.json) {
    out(io, JSON.stringify(body));
    return EXIT.ok;
  }
  out(io, body.secret);
  err(io, `Created webhook ${body.id} → ${body.url}. The line above is its signing secret, shown this once: store it now.`);
  return EXIT.ok;
}

async function update(
  io: Io,
  g: GlobalOptions,
  id: string,
  o: { newUrl?: string; events?: string; description?: string; enable?: boolean; disable?: boolean },
) {
  if (o.enable && o.disable) throw refused('--enable and --disable: choose one.');
  const patch = {
    ...(o.newUrl ? { url: o.newUrl } : {}),
    ...(o.events ? { event_types: eventsOf(o.events) } : {}),
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.enable ? { enabled: true } : o.disable ? { enabled: false } : {}),
  };
  if (Object.keys(patch).length === 0) throw refused('Nothing to change: give --new-url, --events, --description, --enable or --disable.');
  const { body } = await client(io, g).json<EndpointView>('PATCH', `/v1/webhooks/${idArg(id)}`, { body: patch });
  printEndpoint(io, g, body);
  return EXIT.ok;
}

async function remove(io: Io, g: GlobalOptions, id: string): Promise<ExitCode> {
  await client(io, g).send('DELETE', `/v1/webhooks/${idArg(id)}`);
  if (g.json) out(io, JSON.stringify({ deleted: id }));
  else out(io, `Deleted webhook ${id} and its delivery log.`);
  return EXIT.ok;
}

async function deliveries(io: Io, g: GlobalOptions, id: string, o: { status?: string; limit: string }): Promise<ExitCode> {
  const params = new URLSearchParams({ limit: o.limit, ...(o.status ? { status: o.status } : {}) });
  const { body } = await client(io, g).json<{ items: DeliveryView[]; next_cursor: string | null }>(
    'GET',
    `/v1/webhooks/${idArg(id)}/deliveries?${params}`,
  );
  if (g.json) out(io, JSON.stringify(body));
  else
    out(
      io,
      table(
        ['ID', 'EVENT', 'TYPE', 'STATUS', 'TRIES', 'HTTP', 'MS', 'NEXT TRY', 'LAST ERROR'],
        body.items.map((d) => [
          d.id,
          d.event_id,
          d.event_type,
          d.status,
          String(d.attempts),
          d.response_status === null ? '-' : String(d.response_status),
          d.duration_ms === null ? '-' : String(d.duration_ms),
          when(d.next_attempt_at),
          (d.last_error ?? '-').slice(0, 60),
        ]),
      ),
    );
  return EXIT.ok;
}

async function redeliver(io: Io, g: GlobalOptions, id: string, deliveryId: string): Promise<ExitCode> {
  const { body } = await client(io, g).json<DeliveryView>(
    'POST',
    `/v1/webhooks/${idArg(id)}/deliveries/${idArg(deliveryId, 'delivery id')}/redeliver`,
  );
  if (g.json) out(io, JSON.stringify(body));
  else out(io, `Delivery ${body.id} (${body.event_type} ${body.event_id}) will be sent again shortly.`);
  return EXIT.ok;
}

/**
 * `webhooks verify`: checks a received request offline — the raw body (file, or - for stdin), the
 * `Webhook-Signature` header (with or without its name) and the secret. Exit 0 valid, 1 not.
 */
async function verify(
  io: Io,
  g: GlobalOptions,
  o: { secret: string; header: string; bodyFile: string; tolerance: string },
): Promise<ExitCode> {
  const tolerance = Number(o.tolerance);
  if (!Number.isInteger(tolerance) || tolerance < 0)
    throw refused('--tolerance: whole seconds, 0 or more (0: the timestamp is not checked).');
  let body: string;
  try {
    body = o.bodyFile === '-' ? await readAll(io.stdin) : fs.readFileSync(o.bodyFile, 'utf8');
  } catch (e) {
    throw refused(`cannot read ${o.bodyFile}: ${(e as Error).message}`);
  }
  const header = o.header.replace(/^\s*webhook-signature\s*:\s*/i, '');
  const verdict = verifySignature(o.secret, header, body, { toleranceSeconds: tolerance });
  if (g.json) out(io, JSON.stringify(verdict));
  else if (verdict.ok) out(io, `valid: signed at ${new Date(verdict.timestamp * 1000).toISOString()}`);
  else err(io, `NOT valid: ${verdict.reason}`);
  return verdict.ok ? EXIT.ok : EXIT.partial;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Adds `webhooks list|create|update|delete|deliveries|redeliver|verify` to the program. */
export function webhooksCommand(
  program: Command,
  io: Io,
  act: <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) => (...args: A) => Promise<void>,
) {
  const g = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions;
  const w = program.command('webhooks').description('your webhook endpoints, their delivery logs, and signature verification');
  w.command('list')
    .description('your endpoints: id, url, event types, status')
    .action(act((_o: unknown, cmd: Command) => list(io, g(cmd))));
  // The URL is an argument: --url is the global option naming the API.
  w.command('create <url>')
    .description('add an endpoint (the https URL events are POSTed to); its signing secret is printed once (stdout)')
    .requiredOption('--events <types>', 'comma-separated event types (bulk_job.finished,domain.pushed_in,…)')
    .option('--description <text>', 'what it is for')
    .option('--disabled', 'create it disabled')
    .action(
      act((url: string, o: { events: string; description?: string; disabled?: boolean }, cmd: Command) =>
        create(io, g(cmd), { ...o, url }),
      ),
    );
  w.command('update <id>')
    .description('change url, event types or description; enable or disable')
    .option('--new-url <url>', 'the new URL')
    .option('--events <types>', 'comma-separated event types (replaces the list)')
    .option('--description <text>', 'what it is for')
    .option('--enable', 'enable (a disabled endpoint starts its failure count again)')
    .option('--disable', 'disable (its pending deliveries are given up)')
    .action(act((id: string, o: Parameters<typeof update>[3], cmd: Command) => update(io, g(cmd), id, o)));
  w.command('delete <id>')
    .description('delete an endpoint and its delivery log')
    .action(act((id: string, _o: unknown, cmd: Command) => remove(io, g(cmd), id)));
  w.command('deliveries <id>')
    .description("an endpoint's delivery log, newest first: status, tries, HTTP status, duration, next try")
    .option('--status <status>', 'pending, delivered or failed')
    .option('--limit <n>', 'how many', '50')
    .action(act((id: string, o: { status?: string; limit: string }, cmd: Command) => deliveries(io, g(cmd), id, o)));
  w.command('redeliver <id> <delivery_id>')
    .description('send a delivery again (same event id)')
    .action(act((id: string, d: string, _o: unknown, cmd: Command) => redeliver(io, g(cmd), id, d)));
  w.command('verify')
    .description('check a received webhook: exit 0 when the signature is valid, 1 when not')
    .requiredOption('--secret <secret>', 'the endpoint secret (whsec_…)')
    .requiredOption('--header <value>', "the Webhook-Signature header ('Webhook-Signature: t=…,v1=…' or just 't=…,v1=…')")
    .requiredOption('--body-file <file>', 'the raw request body, byte for byte (- for stdin)')
    .option('--tolerance <seconds>', 'refuse a timestamp further than this from now (0: do not check)', String(DEFAULT_TOLERANCE_SECONDS))
    .action(act((o: { secret: string; header: string; bodyFile: string; tolerance: string }, cmd: Command) => verify(io, g(cmd), o)));
}
