export interface WaitOptions {
  /** Give up after this many milliseconds (default 30 s). */
  timeout?: number;
  /** Milliseconds between two checks (default 20). */
  interval?: number;
  /** What was awaited, for the timeout error; a function is read at the timeout, so it can show the last state seen. */
  label?: string | (() => string);
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

/**
 * The one polling loop of the suite: checks `condition` until it returns something truthy and
 * returns that value. Tests wait on a condition, never on a fixed sleep, so a slow machine makes
 * them slower, not red.
 *
 * The older positional form `waitUntil(label, probe, timeoutMs?, intervalMs?)` is still accepted.
 */
export function waitUntil<T>(condition: () => T | Promise<T>, opts?: WaitOptions): Promise<Truthy<T>>;
export function waitUntil<T>(label: string, condition: () => T | Promise<T>, timeout?: number, interval?: number): Promise<Truthy<T>>;
export async function waitUntil<T>(
  first: string | (() => T | Promise<T>),
  second?: WaitOptions | (() => T | Promise<T>),
  timeoutArg?: number,
  intervalArg?: number,
): Promise<Truthy<T>> {
  const [condition, opts]: [() => T | Promise<T>, WaitOptions] =
    typeof first === 'string'
      ? [second as () => T | Promise<T>, { label: first, timeout: timeoutArg, interval: intervalArg }]
      : [first, (second as WaitOptions | undefined) ?? {}];
  const timeout = opts.timeout ?? 30_000;
  const interval = opts.interval ?? 20;
  const until = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value as Truthy<T>;
    if (Date.now() > until) {
      const label = typeof opts.label === 'function' ? opts.label() : (opts.label ?? 'a condition');
      throw new Error(`timed out after ${timeout} ms waiting for ${label}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
