import { expect } from 'chai';
import { EXIT } from '../../cli/exit-codes';
import { outcomeCode, progressLine } from '../../cli/output';
import type { JobState } from '../../cli/sse';

/**
 * The exit-code table of cli/exit-codes.ts as a pure function of a job's state, including the
 * states an end-to-end test cannot easily bring about (a job that failed as a whole).
 */
describe('CLI exit code of a job state', () => {
  const job = (status: string, counts: Record<string, number>, kind = 'push'): JobState & { kind: string } => ({
    id: 'j',
    kind,
    status,
    total: Object.values(counts).reduce((a, b) => a + b, 0),
    counts,
    rate: null,
    eta_seconds: null,
  });

  const table: [string, JobState, number][] = [
    ['all pushed', job('completed', { pushed: 7 }), EXIT.ok],
    ['all released (a release job)', job('completed', { released: 3 }, 'release'), EXIT.ok],
    ['partly failed', job('completed', { pushed: 5, failed: 2 }), EXIT.partial],
    ['partly skipped', job('completed', { pushed: 5, skipped: 2 }), EXIT.partial],
    ['all failed', job('completed', { failed: 7 }), EXIT.partial],
    ['all skipped', job('completed', { skipped: 7 }), EXIT.partial],
    ['none pushed (failed and skipped)', job('completed', { failed: 3, skipped: 4 }), EXIT.partial],
    ['a job that failed as a whole', job('failed', { pushed: 4, failed: 3 }), EXIT.partial],
    ['cancelled after some were pushed', job('cancelled', { pushed: 1000, cancelled: 19000 }), EXIT.cancelled],
    ['cancelled with everything pushed before the cancel took', job('cancelled', { pushed: 5 }), EXIT.cancelled],
    ['suspended with items pending', job('suspended', { pushed: 3000, pending: 7000 }), EXIT.suspended],
    ['suspended before its start', job('suspended', { pending: 5 }), EXIT.suspended],
    ['scheduled (status only reports)', job('scheduled', { pending: 5 }), EXIT.ok],
    ['queued', job('queued', { pending: 5 }), EXIT.ok],
    ['running', job('running', { pushed: 2, running: 1, pending: 2 }), EXIT.ok],
    ['cancelling', job('cancelling', { pushed: 2, running: 1, cancelled: 2 }), EXIT.ok],
  ];
  for (const [what, state, code] of table) {
    it(`${what} → ${code}`, () => expect(outcomeCode(state)).to.equal(code));
  }

  it('a cancelled job is never drawn at 100 %: cancelled items are not progress', () => {
    expect(progressLine(job('cancelled', { pushed: 1000, cancelled: 19000 }))).to.match(/^cancelled 1000\/20000 \(5%\)/);
    expect(progressLine(job('completed', { pushed: 5, failed: 2 }))).to.match(/^completed 7\/7 \(100%\)/);
  });
});
