/** Retries a transient operation with exponential backoff; the last error is rethrown. */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 4, baseMs = 50): Promise<T> {
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
