import type {
  Job as ApiJob,
  Brand,
  Customer,
  DomainListItem,
  Item,
  Kind,
  OperationResponse,
  Package,
  Profile,
  PushSettings,
} from './api-types';

/** The console talks only to the public /v1 API, signed in by the session cookie (sent same-origin) and its binding. */
interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** The request fields the API named as wrong (`details.fields[].path`, e.g. `body.gaining_reseller`). */
  fieldMessages(): Record<string, string> {
    const out: Record<string, string> = {};
    const fields = (this.details as { fields?: { path: string; message: string }[] } | undefined)?.fields;
    for (const f of fields ?? []) {
      const key = f.path.replace(/^(body|query)\./, '');
      out[key] ??= `${f.message}`;
    }
    return out;
  }
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn;
}

/**
 * The session's binding (api/session-cookie.ts): answered at sign-in, kept in localStorage (which
 * is this origin's alone, port included, unlike cookies) and sent with every call, so a session
 * cookie set by a page on another port of this host is refused instead of signing the console in.
 */
const BINDING_KEY = 'dp_session_binding';
const BINDING_HEADER = 'Session-Binding';

function sessionBinding(): string | null {
  try {
    return localStorage.getItem(BINDING_KEY);
  } catch {
    return null;
  }
}

/** Whether this browser holds a console session's binding: without one, no cookie is accepted. */
export function mayBeSignedIn(): boolean {
  return sessionBinding() !== null;
}

function keepSessionBinding(value: string | null) {
  try {
    if (value) localStorage.setItem(BINDING_KEY, value);
    else localStorage.removeItem(BINDING_KEY);
  } catch {
    // Storage refused (some private modes): the cookie alone is refused, the console asks to sign in.
  }
}

/** A GET address the browser fetches itself (EventSource, a download link), with the session's binding. */
export function withSessionBinding(url: string): string {
  const b = sessionBinding();
  if (!b) return url;
  return `${url}${url.includes('?') ? '&' : '?'}session_binding=${encodeURIComponent(b)}`;
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const binding = sessionBinding();
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      Accept: 'application/json',
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(binding ? { [BINDING_HEADER]: binding } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (path === '/v1/sessions' && method === 'POST' && res.ok) keepSessionBinding(res.headers.get(BINDING_HEADER));
  if (path === '/v1/sessions/current' && method === 'DELETE' && res.ok) keepSessionBinding(null);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed as { error?: ApiErrorBody } | undefined)?.error;
    if (res.status === 401 && path !== '/v1/sessions') onUnauthorized();
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `The server answered ${res.status}.`, e?.details);
  }
  return parsed as T;
}

/** A page of a list answer: every list operation's response has this shape (see api-types.ts `Operations`). */
export type Page<T> = { items: T[]; next_cursor: string | null };

/**
 * The API's own types, generated from its OpenAPI document (bin/console-types.ts → api-types.ts):
 * a change of the API's shapes fails the console's type check instead of drifting from a copy.
 */
export type Me = OperationResponse<'getMe'>;
/** A row of the domain list (GET /v1/domains). */
export type Domain = DomainListItem;
/**
 * A job as the API answers it. Its kind names itself (`labels`, `details`, `done_status`): the
 * console shows those as they come and never names a kind, so a new kind needs no edit here.
 * `options` is read only for what every kind's jobs carry (see JobOptions).
 */
export type Job = Omit<ApiJob, 'options' | 'counts' | 'done_status'> & {
  options: JobOptions;
  /** Items by status: the engine's and the kind's done status (the document lists the table's done statuses as optional keys). */
  counts: Record<string, number>;
  done_status: string;
};
type JobStatus = Job['status'];
export const FINISHED: JobStatus[] = ['completed', 'cancelled', 'failed'];
export type { Brand, Customer, Item, Kind, Profile, PushSettings };
export type ServicePackage = Package;

/**
 * The options every kind's jobs carry (shared/bulk/kind.ts `baseOptions`), all optional: an older
 * job may not have recorded one. A kind's own options reach people as the job's `details`.
 */
interface JobOptions {
  /** null: no results email was asked for. */
  email_results_to?: string | null;
  start_after_seconds?: number;
  /** What the submitter asked for: "next_cycle", an ISO time, or null (start at once / after the grace window). */
  start_at_requested?: string | null;
  [option: string]: unknown;
}

/** Item statuses of a job, in the order a filter lists them: the engine's, with the job's own done status. */
export function itemStatusesOf(job: Pick<Job, 'done_status'>): string[] {
  return ['pending', 'running', job.done_status, 'skipped', 'failed', 'cancelled'];
}

/** "Domains" from "domains": a kind's unit words at the start of a line or a column header. */
export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `GET /v1/jobs/:id/items` filters, as the job page keeps them in its URL. */
export interface ItemFilters {
  q?: string;
  status?: string;
  reason?: string;
  cursor?: string;
  limit?: number;
}

/** The query string of an items request (and of its CSV: without cursor and limit). */
export function itemsQuery(f: ItemFilters, opts: { csv?: boolean } = {}): string {
  const p = new URLSearchParams();
  if (opts.csv) p.set('format', 'csv');
  else p.set('limit', String(f.limit ?? 50));
  if (f.q) p.set('q', f.q);
  if (f.status) p.set('status', f.status);
  if (f.reason) p.set('reason', f.reason);
  if (f.cursor && !opts.csv) p.set('cursor', f.cursor);
  return p.toString();
}

/**
 * Worked share of a job, 0..100: items a worker ended (done, skipped or failed). Cancelled items
 * were never worked, so a cancelled job never reads 100 %.
 */
export function progressOf(job: Pick<Job, 'total' | 'counts' | 'status'>): number {
  if (!job.total) return job.status === 'completed' ? 100 : 0;
  const open = (job.counts.pending ?? 0) + (job.counts.running ?? 0) + (job.counts.cancelled ?? 0);
  const pct = Math.floor(((job.total - open) / job.total) * 100);
  return job.status === 'cancelled' ? Math.min(pct, 99) : pct;
}

export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(seconds / 3600).toFixed(1)} h`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
