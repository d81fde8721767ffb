import { expect } from 'chai';
import { jobOutcome, outcomeText, outcomeTone, type OutcomeInput } from '../../shared/bulk/outcome';

/**
 * Outcome derivation (shared/bulk/outcome.ts), one row per rule: a job's status says where it is
 * in its life, its outcome whether it did what was asked. Every front end reads these words.
 */
const push = (status: string, counts: Record<string, number>, total = Object.values(counts).reduce((a, b) => a + b, 0)): OutcomeInput => ({
  status,
  total,
  counts,
  doneStatus: 'pushed',
});

describe('outcome derivation: what a job did, from its status and item counts', () => {
  const table: [rule: string, job: OutcomeInput, outcome: string | null, text: string, tone: string][] = [
    [
      'every item pushed: all_pushed, the only plain success',
      push('completed', { pushed: 7 }),
      'all_pushed',
      'completed: all 7 pushed',
      'success',
    ],
    [
      'some failed: partly_failed, with the failures first',
      push('completed', { pushed: 5, failed: 2 }),
      'partly_failed',
      'completed with 2 failures (5 of 7 pushed)',
      'warning',
    ],
    [
      'some skipped (locked, no apply_to_locked): partly_skipped',
      push('completed', { pushed: 5, skipped: 1 }),
      'partly_skipped',
      'completed with 1 skipped (5 of 6 pushed)',
      'warning',
    ],
    [
      'failed and skipped beside pushed: partly_failed names both',
      push('completed', { pushed: 1, failed: 1, skipped: 2 }),
      'partly_failed',
      'completed with 1 failure and 2 skipped (1 of 4 pushed)',
      'warning',
    ],
    ['every item failed: all_failed, never "completed"', push('completed', { failed: 3 }), 'all_failed', 'all 3 failed', 'danger'],
    ['the one item failed: "failed"', push('completed', { failed: 1 }), 'all_failed', 'failed', 'danger'],
    ['every item skipped: all_skipped', push('completed', { skipped: 4 }), 'all_skipped', 'nothing pushed: all 4 skipped', 'warning'],
    ['the one item skipped', push('completed', { skipped: 1 }), 'all_skipped', 'nothing pushed: the item was skipped', 'warning'],
    [
      'failed and skipped, nothing pushed: none_pushed',
      push('completed', { failed: 2, skipped: 1 }),
      'none_pushed',
      'nothing pushed: 2 failures and 1 skipped',
      'danger',
    ],
    ['no item at all: nothing_to_do', push('completed', {}, 0), 'nothing_to_do', 'completed: nothing to do', 'neutral'],
    [
      'a job that failed with items pushed reads "failed with", not "completed with"',
      push('failed', { pushed: 3, failed: 1 }),
      'partly_failed',
      'failed with 1 failure (3 of 4 pushed)',
      'warning',
    ],
    [
      'cancelled is cancelled, even when every item had been pushed (never 100 % done)',
      push('cancelled', { pushed: 10 }),
      'cancelled',
      'cancelled after 10 of 10 pushed',
      'neutral',
    ],
    [
      'cancelled part way says how far it got',
      push('cancelled', { pushed: 1000, cancelled: 19_000 }),
      'cancelled',
      'cancelled after 1,000 of 20,000 pushed',
      'neutral',
    ],
    [
      'suspended is open: no outcome yet, what is left not started',
      push('suspended', { pushed: 2, pending: 5, running: 1 }),
      null,
      'suspended with 6 not started (2 of 8 pushed)',
      'warning',
    ],
    ['cancelling is open', push('cancelling', { pushed: 2, pending: 3 }), null, 'cancelling (2 of 5 pushed so far)', 'warning'],
    ['queued is open and has moved nothing', push('queued', { pending: 5 }), null, 'queued: nothing has moved yet', 'info'],
    ['running is open', push('running', { pushed: 1, pending: 4 }), null, 'running: 1 of 5 pushed', 'info'],
    ['scheduled without a start time', push('scheduled', { pending: 5 }), null, 'scheduled', 'info'],
  ];

  for (const [rule, job, outcome, text, tone] of table) {
    it(rule, () => {
      expect(jobOutcome(job), 'outcome').to.equal(outcome);
      expect(outcomeText(job), 'text').to.equal(text);
      expect(outcomeTone(jobOutcome(job), job.status), 'tone').to.equal(tone);
    });
  }

  it('a scheduled job says when it starts, in UTC', () => {
    expect(outcomeText({ ...push('scheduled', { pending: 1 }), start_at: '2027-03-01T10:00:00+02:00' })).to.equal(
      'scheduled to start at 2027-03-01T08:00:00.000Z',
    );
  });

  it('a release speaks of released items with the same rules', () => {
    const release = (status: string, counts: Record<string, number>) => ({ ...push(status, counts), doneStatus: 'released' });
    expect(jobOutcome(release('completed', { released: 3 }))).to.equal('all_released');
    expect(outcomeText(release('completed', { released: 3 }))).to.equal('completed: all 3 released');
    expect(jobOutcome(release('completed', { failed: 1, skipped: 1 }))).to.equal('none_released');
    expect(outcomeText(release('cancelled', { released: 2, cancelled: 1 }))).to.equal('cancelled after 2 of 3 released');
  });

  it('only all_<done> is a success: no ended outcome other than every item done is painted green', () => {
    const ended = ['completed', 'cancelled'];
    const shapes: Record<string, number>[] = [
      { pushed: 3 },
      { pushed: 2, failed: 1 },
      { pushed: 2, skipped: 1 },
      { failed: 3 },
      { skipped: 3 },
      { failed: 1, skipped: 2 },
      {},
    ];
    const green: string[] = [];
    for (const status of ended)
      for (const counts of shapes) {
        const job = push(status, counts);
        if (outcomeTone(jobOutcome(job), status) === 'success') green.push(`${status} ${JSON.stringify(counts)}`);
      }
    expect(green).to.deep.equal(['completed {"pushed":3}']);
  });
});
