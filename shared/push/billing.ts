/**
 * Billing cycles are monthly, anchored on a day of the month (1 by default), in UTC.
 * When the anchor day does not exist in a month (31st in April, 29th in February of a common
 * year) the cycle starts on that month's last day.
 */
function cycleStartIn(year: number, month: number, anchorDay: number): Date {
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, month, Math.min(anchorDay, lastDay)));
}

/** The first cycle start strictly after `at`: a push exactly at a cycle start is billed from the next one. */
export function nextCycleStart(at: Date, anchorDay = 1): Date {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const thisMonth = cycleStartIn(y, m, anchorDay);
  return thisMonth.getTime() > at.getTime() ? thisMonth : cycleStartIn(y, m + 1, anchorDay);
}
