import type { Command } from 'commander';
import { readConfig } from './config';
import { EXIT, refused, type ExitCode } from './exit-codes';
import { ApiClient } from './http';
import { table } from './output';
import { ask, canAsk } from './review';

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

/** A key as `GET /v1/api-keys` lists it: never the key, only its prefix. */
export interface KeyView {
  id: string;
  prefix: string;
  label: string | null;
  created_at: string;
  created_via: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  revoked_via: string | null;
  current: boolean;
}

const out = (io: Io, s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (io: Io, s: string) => io.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const client = (io: Io, g: GlobalOptions) => new ApiClient(readConfig(io.env, g.url));
/** Minutes are enough to tell keys apart; the API's timestamps are ISO 8601 UTC. */
const when = (ts: string | null) => (ts ? `${ts.slice(0, 16).replace('T', ' ')}Z` : '-');

async function allKeys(api: ApiClient): Promise<KeyView[]> {
  const keys: KeyView[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const { body }: { body: { items: KeyView[]; next_cursor: string | null } } = await api.json('GET', `/v1/api-keys?${params}`);
    keys.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor);
  return keys;
}

/** `keys list`: every key of the account, live and revoked; the one DOMAIN_PUSH_API_KEY holds is marked. */
async function list(io: Io, g: GlobalOptions): Promise<ExitCode> {
  const keys = await allKeys(client(io, g));
  if (g.json) {
    out(io, JSON.stringify({ items: keys }));
    return EXIT.ok;
  }
  out(
    io,
    table(
      ['ID', 'PREFIX', 'LABEL', 'CREATED', 'LAST USED', 'STATUS'],
      keys.map((k) => [
        k.id,
        `${k.prefix}…`,
        k.label ?? '-',
        when(k.created_at),
        when(k.last_used_at),
        k.revoked_at ? `revoked ${when(k.revoked_at)}` : k.current ? 'live (this key)' : 'live',
      ]),
    ),
  );
  return EXIT.ok;
}

/**
 * `keys create`: a new key, printed once. The key alone goes to stdout (so `KEY=$(domain-push keys
 * create)` captures it); what to do with it goes to stderr.
 */
async function create(io: Io, g: GlobalOptions, o: { label?: string }): Promise<ExitCode> {
  const { body } = await client(io, g).json<KeyView & { api_key: string }>('POST', '/v1/api-keys', {
    body: o.label === undefined ? {} : { label: o.label },
  });
  if (g.json) {
    out(io, JSON.stringify(body));
    return EXIT.ok;
  }
  out(io, body.api_key);
  err(
    io,
    `Created key ${body.id} (${body.prefix}…${body.label ? `, "${body.label}"` : ''}). This is the only time it is shown: store it now.`,
  );
  return EXIT.ok;
}

/**
 * `keys revoke <id>`: the key stops working at once, its console sessions and event streams end.
 * On a terminal it says which key and asks first; scripts pass --yes (without a terminal and
 * without --yes nothing is revoked, exit 2).
 */
async function revoke(io: Io, g: GlobalOptions, id: string, o: { yes?: boolean }): Promise<ExitCode> {
  if (!/^[0-9]+$/.test(id)) throw refused(`"${id}" is not a key id: run domain-push keys list for the ids.`);
  if (!o.yes && !canAsk(io, false))
    throw refused('refusing to revoke a key without confirmation: run on a terminal or pass --yes. Nothing was revoked.');
  const api = client(io, g);
  const key = (await allKeys(api)).find((k) => k.id === id);
  if (!key) throw refused(`You have no key ${id}: run domain-push keys list for the ids. Nothing was revoked.`);
  if (!o.yes) {
    const what = `key ${key.id} (${key.prefix}…${key.label ? `, "${key.label}"` : ''}, last used ${when(key.last_used_at)})`;
    err(io, `Revoke ${what}? It stops working at once; its console sessions end.`);
    if (key.current) err(io, 'It is the key this CLI uses (DOMAIN_PUSH_API_KEY): switch to another key afterwards.');
    if (!/^y(es)?$/i.test((await ask('Revoke? [y/N] ')).trim())) throw refused('Not confirmed: nothing was revoked.');
  }
  const { body } = await api.json<KeyView>('POST', `/v1/api-keys/${encodeURIComponent(id)}/revoke`);
  if (g.json) out(io, JSON.stringify(body));
  else {
    out(io, `Revoked key ${body.id} (${body.prefix}…) at ${when(body.revoked_at)}.`);
    if (body.current) err(io, 'That was the key in DOMAIN_PUSH_API_KEY: set it to another key of yours.');
  }
  return EXIT.ok;
}

/** Adds `keys list|create|revoke` to the program. */
export function keysCommand(
  program: Command,
  io: Io,
  act: <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) => (...args: A) => Promise<void>,
) {
  const g = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions;
  const keys = program.command('keys').description('your API keys: list them, create another, revoke one');
  keys
    .command('list')
    .description('every key of your account, live and revoked: id, prefix, label, created, last used')
    .action(act((_o: unknown, cmd: Command) => list(io, g(cmd))));
  keys
    .command('create')
    .description('create another key; it is printed once (stdout), never shown again')
    .option('--label <text>', 'what the key is for ("CI", "laptop"); shown in the list')
    .action(act((o: { label?: string }, cmd: Command) => create(io, g(cmd), o)));
  keys
    .command('revoke <id>')
    .description('revoke a key (its console sessions and event streams end); asks first on a terminal')
    .option('-y, --yes', 'revoke without the question (for scripts; required when not on a terminal)')
    .action(act((id: string, o: { yes?: boolean }, cmd: Command) => revoke(io, g(cmd), id, o)));
}
