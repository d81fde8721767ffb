import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { readConfig } from './config';
import { type InvalidEntry, whereText } from '../shared/catalog/domain-list';
import { listBody, parseDomainList, type DomainList, type ListFormat } from './domain-list';
import { CliError, EXIT, refused, type ExitCode } from './exit-codes';
import { ApiClient, submitWithRetry, unreachable } from './http';
import {
  barView,
  describeJob,
  doneStatus,
  jsonView,
  lineView,
  outcomeCode,
  outcomeLine,
  table,
  type ItemView,
  type JobView,
  type ProgressView,
} from './output';
import { profilePassword } from './password';
import { ask, canAsk, question, reviewText, type DryRun } from './review';
import { describeStart, pushSchedule, rescheduleBody, type ScheduleOptions } from './schedule';
import { followJob } from './sse';

/** What a command may touch: the environment, the standard streams, the global options. */
export interface Io {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Aborted on Ctrl-C, so a watch stops cleanly. */
  signal: AbortSignal;
}

export interface GlobalOptions {
  json?: boolean;
  url?: string;
}

const out = (io: Io, s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (io: Io, s: string) => io.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const client = (io: Io, g: GlobalOptions) => new ApiClient(readConfig(io.env, g.url));
const jobPath = (id: string, rest = '') => `/v1/jobs/${encodeURIComponent(id)}${rest}`;

export interface PushOptions extends ScheduleOptions, FollowFlags {
  to: string;
  file?: string;
  all?: boolean;
  format: ListFormat;
  applyToLocked?: boolean;
  /** --skip-invalid: push the valid names; each invalid line becomes a skipped item. */
  skipInvalid?: boolean;
  existingProfile?: string;
  emailResultsTo?: string;
  /** false with --no-email: no results email at all. */
  email?: boolean;
  dryRun?: boolean;
  idempotencyKey?: string;
  /** Skip the review and the question: for scripts. */
  yes?: boolean;
  watch?: boolean;
  wait?: boolean;
}

export interface FollowFlags {
  /** --through-suspension: keep waiting while the job is suspended, until it ends. */
  throughSuspension?: boolean;
}

async function readList(io: Io, file: string, format: ListFormat): Promise<DomainList> {
  let text: string;
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const c of io.stdin) chunks.push(Buffer.from(c as Buffer));
      text = Buffer.concat(chunks).toString('utf8');
    } else text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw refused(`Cannot read ${file}: ${(e as Error).message}`);
  }
  return parseDomainList(text, format, file === '-' ? '' : file);
}

/**
 * `push`: submits one bulk push. A push cannot be undone, so unless --yes (scripts) or --dry-run
 * it first runs the dry run, prints what will happen and asks on the terminal; without a terminal
 * and without --yes it is refused before any request. Without --watch/--wait it prints the job id
 * and exits 0 once the API accepted the job (202): the job runs on the server whatever the CLI
 * does next. With them, the exit code follows the job's outcome.
 */
export async function push(io: Io, g: GlobalOptions, o: PushOptions): Promise<ExitCode> {
  if (!!o.file === !!o.all) throw refused('Give exactly one of --file <path> (or - for stdin) and --all.');
  if (o.email === false && o.emailResultsTo !== undefined) throw refused('Give --email-results-to or --no-email, not both.');
  if (o.throughSuspension && !(o.watch || o.wait)) throw refused('--through-suspension goes with --wait or --watch.');
  const schedule = pushSchedule(o);
  const review = !o.dryRun && !o.yes;
  if (review && !canAsk(io, o.file === '-')) {
    throw refused('refusing to move domains without confirmation: run on a terminal or pass --yes. Nothing was submitted.');
  }
  const api = client(io, g);
  const list = o.file ? await readList(io, o.file, o.format) : undefined;
  let profile: Record<string, string> = { mode: 'new' };
  if (o.existingProfile !== undefined) {
    const comma = o.existingProfile.indexOf(',');
    const domain = o.existingProfile.slice(0, comma).trim();
    const username = o.existingProfile.slice(comma + 1).trim();
    if (comma === -1 || !domain || !username) throw refused('--existing-profile takes "domain,username" (the password is asked for).');
    const password = await profilePassword(io.env, `${domain}, ${username}`);
    profile = { mode: 'existing', domain, username, password };
  }
  // Omitted, the API emails the results to the account's email.
  const emailResultsTo = o.email === false ? null : o.emailResultsTo;
  const body = {
    gaining_reseller: o.to,
    ...(list ? listBody(list) : { all_domains: true }),
    ...(o.skipInvalid ? { skip_invalid: true } : {}),
    profile,
    apply_to_locked: !!o.applyToLocked,
    ...(emailResultsTo !== undefined ? { email_results_to: emailResultsTo } : {}),
    ...schedule,
    ...(o.dryRun ? { dry_run: true } : {}),
  };
  if (review) {
    const reviewed = await submitWithRetry(api, '/v1/bulk-pushes', { ...body, dry_run: true }, undefined).catch((e) => {
      throw explainRefusal(e, list, undefined);
    });
    const me = await api.json<{ username: string; email?: string }>('GET', '/v1/me');
    const text = reviewText(reviewed.body as DryRun, {
      from: me.body.username,
      to: o.to,
      schedule,
      emailResultsTo,
      accountEmail: me.body.email,
    });
    // The review is for the person at the terminal; --json keeps stdout for the job document.
    (g.json ? err : out)(io, text);
    const q = question((reviewed.body as DryRun).total, o.to);
    if (!q.accepts(await ask(q.prompt))) throw refused('Not confirmed: nothing was submitted.');
  }
  // Our own key unless the user gave one, so that retrying a submit whose answer was lost can
  // never make a second job; a push cannot be undone.
  const key = o.idempotencyKey ?? `cli-${crypto.randomUUID()}`;
  const res = await submitWithRetry(api, '/v1/bulk-pushes', body, o.dryRun ? undefined : key).catch((e) => {
    throw explainRefusal(e, list, o.idempotencyKey ? undefined : key);
  });
  if (o.dryRun) return dryRunReport(io, g, o, res.body as DryRun);
  const job = res.body as {
    id: string;
    status: string;
    total: number;
    duplicates_removed?: number;
    duplicates?: string[];
    start_at?: string | null;
  };
  if (g.json && !(o.watch || o.wait)) out(io, JSON.stringify(job));
  else if (!g.json) {
    if (res.status === 200) out(io, `Job ${job.id} was already submitted with this idempotency key; it is ${job.status}.`);
    else out(io, `Job ${job.id} ${job.status}: ${job.total} domain(s) to ${o.to}.`);
    if (job.status === 'scheduled') {
      const when = job.start_at ? `starts at ${job.start_at}` : describeStart(schedule, o.to);
      out(io, `It ${when}; until then: domain-push cancel ${job.id} (nothing moves), or domain-push reschedule ${job.id}.`);
    }
    if (job.duplicates_removed) {
      const shown = (job.duplicates ?? []).slice(0, 10).join(', ');
      out(io, `${job.duplicates_removed} duplicate(s) removed${shown ? `: ${shown}${job.duplicates_removed > 10 ? ', ...' : ''}` : ''}.`);
    }
    if (!(o.watch || o.wait)) out(io, `Follow it: domain-push watch ${job.id}`);
  }
  if (o.watch || o.wait) return follow(io, g, api, job.id, !!o.watch, o);
  return EXIT.ok;
}

/** Points at the file's lines for bad names, and says how to retry safely when unreachable. */
function explainRefusal(e: unknown, list: DomainList | undefined, autoKey: string | undefined): unknown {
  if (!(e instanceof CliError)) return e;
  const error = (e.body as { error?: { code?: string; details?: { invalid?: InvalidEntry[] } } })?.error;
  if (error?.code === 'invalid_domains' && Array.isArray(error.details?.invalid)) {
    const bad = error.details.invalid;
    // The API says where (line, column); an older one only the position, which the file's lines place.
    const at = (b: InvalidEntry) => (b.line === undefined && list ? { ...b, line: list.lines[b.position - 1] } : b);
    const shown = bad.slice(0, 20).map((b) => `  ${whereText(at(b))}: "${b.value}" (${b.reason})`);
    if (bad.length > 20) shown.push(`  ... and ${bad.length - 20} more`);
    return new CliError(e.exitCode, `${e.message}\n${shown.join('\n')}`, e.body);
  }
  if (e.exitCode === EXIT.unreachable && autoKey) {
    return new CliError(
      e.exitCode,
      `${e.message}\nThe job may or may not have been created; run the same command with --idempotency-key ${autoKey} to find out without risking a second job.`,
      e.body,
    );
  }
  return e;
}

function dryRunReport(io: Io, g: GlobalOptions, o: PushOptions, r: DryRun): ExitCode {
  const code = r.predicted.pushed === r.total ? EXIT.ok : EXIT.partial;
  if (g.json) {
    out(io, JSON.stringify(r));
    return code;
  }
  out(io, `Dry run (nothing changed): ${r.total} domain(s) to ${o.to}.`);
  out(io, `Predicted: pushed ${r.predicted.pushed ?? 0}, skipped ${r.predicted.skipped ?? 0}, failed ${r.predicted.failed ?? 0}.`);
  if (r.duplicates_removed) out(io, `${r.duplicates_removed} duplicate(s) removed.`);
  const notPushed = r.items.filter((i) => i.status !== 'pushed');
  if (notPushed.length) {
    out(io, 'Not pushed:');
    out(
      io,
      table(
        ['DOMAIN', 'STATUS', 'REASON'],
        notPushed.map((i) => [i.domain, i.status, i.reason ?? '']),
      ),
    );
  }
  return code;
}

/**
 * Follows a job to its end, drawing progress; the exit code is the job's outcome. A scheduled job
 * is waited for until it starts and ends; a suspended one is where following stops (exit 5)
 * unless --through-suspension.
 */
async function follow(io: Io, g: GlobalOptions, api: ApiClient, id: string, showProgress: boolean, f: FollowFlags): Promise<ExitCode> {
  const quiet: ProgressView = { update() {}, note() {}, stop() {} };
  const view: ProgressView = !showProgress
    ? quiet
    : g.json
      ? jsonView((s) => io.stdout.write(s))
      : io.stdout.isTTY
        ? barView(io.stdout)
        : lineView((s) => io.stdout.write(s));
  let job: JobView;
  try {
    job = (await followJob(api, jobPath(id, '/events'), {
      onState: (s) => view.update(s),
      onReconnect: (why, ms) => (g.json ? err(io, `reconnecting in ${ms} ms: ${why}`) : view.note(`(reconnecting in ${ms} ms: ${why})`)),
      signal: io.signal,
      throughSuspension: f.throughSuspension,
    })) as JobView;
  } catch (e) {
    view.stop();
    if (e instanceof CliError && e.exitCode === EXIT.interrupted) {
      throw new CliError(EXIT.interrupted, `Stopped watching; the job goes on. Watch again: domain-push watch ${id}`);
    }
    throw e;
  }
  view.stop();
  if (g.json && !showProgress) out(io, JSON.stringify(job)); // --wait --json: the final state only
  if (!g.json) {
    out(io, `Job ${job.id}: ${outcomeLine(job)}.`);
    out(io, `  ${describeCounts(job)}.`);
    for (const s of ['failed', 'skipped']) if ((job.counts[s] ?? 0) > 0) out(io, `See why: domain-push items ${job.id} --status ${s}`);
    if (job.status === 'suspended') {
      out(io, `Nothing more moves until it is resumed: domain-push resume ${job.id}; to wait through it: --through-suspension.`);
    }
  }
  return outcomeCode(job);
}

function describeCounts(job: JobView) {
  return [doneStatus(job), 'skipped', 'failed', 'cancelled'].map((k) => `${k} ${job.counts[k] ?? 0}`).join(', ') + ` of ${job.total}`;
}

export async function watch(io: Io, g: GlobalOptions, id: string, f: FollowFlags = {}): Promise<ExitCode> {
  return follow(io, g, client(io, g), id, true, f);
}

/** `status`: the job view; exits with the job's outcome once it has ended, 0 while it runs. */
export async function status(io: Io, g: GlobalOptions, id: string): Promise<ExitCode> {
  const { body } = await client(io, g).json<JobView>('GET', jobPath(id));
  out(io, g.json ? JSON.stringify(body) : describeJob(body));
  return outcomeCode(body);
}

export async function items(io: Io, g: GlobalOptions, id: string, o: { status?: string; csv?: boolean }): Promise<ExitCode> {
  const api = client(io, g);
  const query = o.status ? `?status=${encodeURIComponent(o.status)}` : '';
  if (o.csv) {
    // Streamed as the server writes it: a 50,000-item job never sits in memory here.
    const res = await api.send('GET', jobPath(id, `/items${query}`), { accept: 'text/csv', timeoutMs: 0 });
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), io.stdout, { end: false });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return EXIT.ok; // the reader (e.g. `head`) had enough
      throw unreachable(api.config.url, e);
    }
    return EXIT.ok;
  }
  const all: ItemView[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ limit: '1000', ...(o.status ? { status: o.status } : {}), ...(cursor ? { cursor } : {}) });
    const { body } = await api.json<{ items: ItemView[]; next_cursor: string | null }>('GET', jobPath(id, `/items?${params}`));
    all.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor);
  if (g.json) out(io, JSON.stringify({ items: all }));
  else if (all.length === 0) out(io, 'No items.');
  else
    out(
      io,
      table(
        ['DOMAIN', 'STATUS', 'REASON', 'MESSAGE'],
        all.map((i) => [i.domain, i.status, i.reason ?? '', i.message ?? '']),
      ),
    );
  return EXIT.ok;
}

export async function control(io: Io, g: GlobalOptions, id: string, verb: 'cancel' | 'suspend' | 'resume'): Promise<ExitCode> {
  const { body } = await client(io, g).json<{ status: string }>('POST', jobPath(id, `/${verb}`));
  out(io, g.json ? JSON.stringify(body) : `Job ${id}: ${body?.status ?? verb}.`);
  return EXIT.ok;
}

/** `reschedule`: a new start for a job that has not started yet (scheduled, or suspended before its start). */
export async function reschedule(io: Io, g: GlobalOptions, id: string, o: ScheduleOptions): Promise<ExitCode> {
  const body = rescheduleBody(o);
  const { body: job } = await client(io, g).json<JobView>('POST', jobPath(id, '/reschedule'), { body });
  out(io, g.json ? JSON.stringify(job) : `Job ${id}: ${outcomeLine(job)}.`);
  return EXIT.ok;
}

export async function jobs(io: Io, g: GlobalOptions, o: { limit: string; cursor?: string }): Promise<ExitCode> {
  const params = new URLSearchParams({ limit: o.limit, ...(o.cursor ? { cursor: o.cursor } : {}) });
  const { body } = await client(io, g).json<{ items: JobView[]; next_cursor: string | null }>('GET', `/v1/jobs?${params}`);
  if (g.json) {
    out(io, JSON.stringify(body));
    return EXIT.ok;
  }
  if (body.items.length === 0) out(io, 'No jobs.');
  else
    out(
      io,
      table(
        // DONE counts only what was done (the kind's done status): a cancelled job never reads n/n.
        ['ID', 'KIND', 'STATUS', 'FROM', 'TO', 'DONE', 'CREATED', 'OUTCOME'],
        body.items.map((j) => [
          j.id,
          j.kind,
          j.status,
          j.losing_reseller ?? '-',
          j.gaining_reseller ?? '-',
          `${j.counts[doneStatus(j)] ?? 0}/${j.total}`,
          j.created_at,
          outcomeLine(j),
        ]),
      ),
    );
  if (body.next_cursor) out(io, `More: domain-push jobs --cursor ${body.next_cursor}`);
  return EXIT.ok;
}
