import { retry, type RetryOptions, type RetryPolicy } from '../shared/platform/retry';
import { CliError, EXIT, refused } from './exit-codes';
import type { CliConfig } from './config';

/** The API's error shape: `{error: {code, message, details?}}` on every 4xx and 5xx. */
interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  accept?: string;
  /** 0: no overall timeout (event streams bring their own idle timer through `signal`). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A client of the public /v1 API and nothing else. Every failure becomes a CliError with the exit
 * code of its class: a 4xx is a refusal (2), a network error, timeout or 5xx is "unreachable" (3).
 */
export class ApiClient {
  constructor(readonly config: CliConfig) {}

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const res = await this.send(method, path, { accept: 'application/json', ...opts });
    const text = await readText(res, this.config.url);
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** Sends a request and returns the response only when it is a success; the body is left unread. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.config.apiKey}`,
      accept: opts.accept ?? 'application/json',
      'user-agent': 'domain-push-cli',
      ...opts.headers,
    };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const limit = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signals = [opts.signal, limit > 0 ? AbortSignal.timeout(limit) : undefined].filter((s) => s !== undefined);
    let res: Response;
    try {
      res = await fetch(this.config.url + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (err) {
      throw unreachable(this.config.url, err);
    }
    if (res.ok) return res;
    throw await failure(res, this.config.url);
  }
}

/**
 * How the CLI retries a submit whose answer never came (the service unreachable, a timeout, a 5xx):
 * 3 tries in all, pauses drawn from [0, 2 s] then [0, 4 s] (the one retry policy, full jitter), so
 * many scripts that lost the service at once do not come back in step.
 */
export const SUBMIT_RETRY: RetryPolicy = { attempts: 3, baseMs: 2_000, factor: 2, capMs: 4_000, jitter: 'full' };

/**
 * POSTs a job submit. With an idempotency key a retry can never make a second job, so an
 * unreachable answer is tried again (SUBMIT_RETRY); without one it is tried once. A refusal (4xx)
 * is never retried.
 */
export function submitWithRetry(
  api: ApiClient,
  path: string,
  body: unknown,
  key: string | undefined,
  opts: Pick<RetryOptions, 'sleep' | 'random' | 'onRetry'> = {},
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = key ? { 'idempotency-key': key } : {};
  return retry(() => api.json('POST', path, { body, headers, timeoutMs: 120_000 }), key ? SUBMIT_RETRY : { ...SUBMIT_RETRY, attempts: 1 }, {
    ...opts,
    isRetryable: (e) => e instanceof CliError && e.exitCode === EXIT.unreachable,
  });
}

async function readText(res: Response, url: string) {
  try {
    return await res.text();
  } catch (err) {
    throw unreachable(url, err);
  }
}

export function unreachable(url: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const why = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
  return new CliError(EXIT.unreachable, `Cannot reach ${url} (${why}). Check DOMAIN_PUSH_URL and that the service is up.`);
}

/** A non-2xx answer as a CliError carrying the API's own message and code. */
async function failure(res: Response, url: string): Promise<CliError> {
  let body: unknown = null;
  const text = await res.text().catch(() => '');
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const err = (body as Partial<ApiErrorBody> | null)?.error;
  const code = err?.code ?? `http_${res.status}`;
  const message = err?.message ?? (text.slice(0, 200) || res.statusText);
  const errorBody: ApiErrorBody = { error: { code, message, ...(err?.details !== undefined ? { details: err.details } : {}) } };
  if (res.status >= 500) {
    return new CliError(EXIT.unreachable, `The service at ${url} failed (${res.status} ${code}): ${message}`, errorBody);
  }
  let line = `Refused (${res.status} ${code}): ${message}`;
  if (res.status === 401) line += ' Check DOMAIN_PUSH_API_KEY.';
  if (res.status === 429) {
    // Refused for now, not for good: say when asking again makes sense.
    const after = res.headers.get('retry-after');
    line += after ? ` Retry after ${after} s.` : ' Retry later.';
    (errorBody.error as Record<string, unknown>).retry_after = after === null ? null : Number(after);
  }
  const details = describeDetails(err?.details);
  return refused(details ? `${line}\n${details}` : line, errorBody);
}

/** The fields an invalid_request names, so the user sees which option to fix. */
function describeDetails(details: unknown): string {
  const fields = (details as { fields?: { path: string; message: string }[] } | undefined)?.fields;
  if (!Array.isArray(fields)) return '';
  return fields.map((f) => `  ${f.path}: ${f.message}`).join('\n');
}
