/** A registry call is tried this often, 50, 100, 200 ms apart, before its item fails. */
export const RETRY_ATTEMPTS = 4;
export const RETRY_BASE_MS = 50;

/** Retries a transient operation with exponential backoff; the last error is rethrown. */
export async function withRetry<T>(fn: () => Promise<T>, attempts = RETRY_ATTEMPTS, baseMs = RETRY_BASE_MS): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      if (i < attempts - 1) await new Promise((r) => setTimeout(r, baseMs * 2 ** i));
    }
  }
  throw last;
}
