import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { readConfig } from './config';
import { EXIT, refused, type ExitCode } from './exit-codes';
import { ApiClient, unreachable } from './http';
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

/** An entry as `GET /v1/audit` answers it (docs/audit.md). */
interface AuditEntryView {
  id: string;
  at: string;
  reseller: string | null;
  action: string;
  actor: { kind: string; id: string | null };
  address: string | null;
  target: { type: string; id: string | null };
  summary: Record<string, unknown>;
  route: string | null;
  status: number | null;
}

interface AuditOptions {
  action?: string;
  actor?: string;
  target?: string;
  since?: string;
  until?: string;
  limit?: string;
  csv?: boolean;
}

const out = (io: Io, s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `7d`, `12h`, `30m` before `now`, or an ISO 8601 date or date-time as it is. */
export function sinceTime(value: string, now = new Date()): string {
  const rel = /^(\d{1,5})([mhd])$/.exec(value.trim());
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNITS[rel[2]]).toISOString();
  const t = value.trim();
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(t) && !Number.isNaN(Date.parse(t))) return t;
  throw refused(`"${value}" is not a time: use 7d, 12h, 30m, a date (2026-12-01) or an ISO 8601 date-time with a zone.`);
}

/** The line a person reads of a summary: the changed fields, then the other values. */
function summaryText(s: Record<string, unknown>): string {
  const { fields, ...rest } = s;
  const parts = Array.isArray(fields) && fields.length ? [`fields: ${fields.join(', ')}`] : [];
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  const text = parts.join('; ');
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/**
 * `audit`: your account's audit trail, newest first (one page of --limit entries), or with --csv every
 * matching entry as the API streams it.
 */
async function audit(io: Io, g: GlobalOptions, o: AuditOptions): Promise<ExitCode> {
  const api = new ApiClient(readConfig(io.env, g.url));
  const limit = o.limit ?? '50';
  if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw refused('--limit is a number from 1 to 1000.');
  const params = new URLSearchParams({
    ...(o.action ? { action: o.action } : {}),
    ...(o.actor ? { actor: o.actor } : {}),
    ...(o.target ? { target: o.target } : {}),
    ...(o.since ? { from: sinceTime(o.since) } : {}),
    ...(o.until ? { to: sinceTime(o.until) } : {}),
  });
  if (o.csv) {
    // Streamed as the server writes it: years of entries never sit in memory here.
    const res = await api.send('GET', `/v1/audit.csv?${params}`, { accept: 'text/csv', timeoutMs: 0 });
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), io.stdout, { end: false });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return EXIT.ok;
      throw unreachable(api.config.url, e);
    }
    return EXIT.ok;
  }
  params.set('limit', limit);
  const { body } = await api.json<{ items: AuditEntryView[]; next_cursor: string | null }>('GET', `/v1/audit?${params}`);
  if (g.json) out(io, JSON.stringify(body));
  else if (body.items.length === 0) out(io, 'No audit entries match.');
  else {
    out(
      io,
      table(
        ['TIME (UTC)', 'ACTOR', 'ADDRESS', 'ACTION', 'TARGET', 'CHANGE'],
        body.items.map((e) => [
          e.at.slice(0, 19).replace('T', ' '),
          e.actor.id ? `${e.actor.kind} ${e.actor.id}` : e.actor.kind,
          e.address ?? '-',
          e.action,
          e.target.id ? `${e.target.type} ${e.target.id}` : e.target.type,
          summaryText(e.summary),
        ]),
      ),
    );
    if (body.next_cursor) io.stderr.write(`More entries: narrow with --since/--action, raise --limit, or export all with --csv.\n`);
  }
  return EXIT.ok;
}

/** Adds `audit` to the program. */
export function auditCommand(
  program: Command,
  io: Io,
  act: <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) => (...args: A) => Promise<void>,
) {
  program
    .command('audit')
    .description("your account's audit trail: who changed what, when, from where (newest first)")
    .option('--action <action>', 'an action (customer.update) or every action under a prefix ending in a dot (customer.)')
    .option('--actor <actor>', 'an actor kind (api_key, session, operator, claim_link) or a key prefix (dpk_1a2b)')
    .option('--target <target>', "a target type (customer) or one target's history (bulk_job:<id>)")
    .option('--since <when>', 'entries from then on: 7d, 12h, 30m, a date or an ISO 8601 date-time')
    .option('--until <when>', 'entries before then (same forms)')
    .option('--limit <n>', 'how many entries to show (1-1000)', '50')
    .option('--csv', 'every matching entry as CSV, streamed (id,at,reseller,action,actor_kind,actor_id,address,…)')
    .action(act((o: AuditOptions, cmd: Command) => audit(io, cmd.optsWithGlobals() as GlobalOptions, o)));
}
