import { refused } from './exit-codes';

/** The API's bounds for the grace window (`start_after_seconds`). */
export const MAX_START_AFTER_SECONDS = 3600;

export interface ScheduleOptions {
  /** `--start-after <seconds>`: the grace window before the first domain moves. */
  startAfter?: string;
  /** `--start-at <ISO|next_cycle>` (and `now` for reschedule). */
  startAt?: string;
}

/** What a person asked for, in the API's words; `describe` reads it back for the review. */
export interface Schedule {
  start_after_seconds?: number;
  start_at?: string;
}

function seconds(raw: string): number {
  const s = raw.trim();
  if (!/^\d+$/.test(s) || Number(s) > MAX_START_AFTER_SECONDS) {
    throw refused(`--start-after takes whole seconds from 0 to ${MAX_START_AFTER_SECONDS}; got "${raw}".`);
  }
  return Number(s);
}

/**
 * `next_cycle`, `now` (reschedule only) or a date-time. A date-time without a zone is read in the
 * local time zone, as a person at a terminal means it, and sent to the API in UTC.
 */
function startAt(raw: string, allowNow: boolean): string {
  const s = raw.trim();
  const lower = s.toLowerCase();
  if (lower === 'next_cycle' || (allowNow && lower === 'now')) return lower;
  const when = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(s) ? new Date(s) : undefined;
  if (!when || Number.isNaN(when.getTime())) {
    const words = allowNow ? 'next_cycle, now' : 'next_cycle';
    throw refused(`--start-at takes a date-time (e.g. 2030-01-31T09:00:00Z, or 2030-01-31 09:00 in local time) or ${words}; got "${raw}".`);
  }
  return when.toISOString();
}

/** The schedule fields of a push's body; none when nothing was asked (the API starts at once). */
export function pushSchedule(o: ScheduleOptions): Schedule {
  const after = o.startAfter === undefined ? undefined : seconds(o.startAfter);
  const at = o.startAt === undefined ? undefined : startAt(o.startAt, false);
  if (at !== undefined && after) throw refused('Give --start-at or --start-after, not both: a scheduled push starts at its time.');
  return { ...(after ? { start_after_seconds: after } : {}), ...(at !== undefined ? { start_at: at } : {}) };
}

/** The body of `POST …/reschedule`: exactly one of the two. */
export function rescheduleBody(o: ScheduleOptions): Schedule {
  if ((o.startAt === undefined) === (o.startAfter === undefined)) {
    throw refused('Give exactly one of --start-at <date-time|next_cycle|now> and --start-after <seconds>.');
  }
  return o.startAt !== undefined ? { start_at: startAt(o.startAt, true) } : { start_after_seconds: seconds(o.startAfter!) };
}

/**
 * "starts at once", "starts in 30 s", "starts at 2030-01-31T09:00:00.000Z", "starts at <time>
 * (gaining-demo's next billing-cycle start)"; `resolved` is the time the API worked out, if known.
 */
export function describeStart(s: Schedule, gaining: string, resolved?: string | null): string {
  if (s.start_at === 'next_cycle') {
    return resolved ? `starts at ${resolved} (${gaining}'s next billing-cycle start)` : `starts at ${gaining}'s next billing-cycle start`;
  }
  if (s.start_at) return `starts at ${s.start_at}`;
  if (s.start_after_seconds) return `starts in ${s.start_after_seconds} s`;
  return 'starts at once';
}
