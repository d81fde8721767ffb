import { dropTemplate } from './helpers/db';
import { failOnOpenHandles, installLeakTracker } from './helpers/leaks';

// Before any test file loads: timers, sockets, servers and children remember where they were made.
installLeakTracker();

// Mocha root hook: the migrated template database is made by the first test that needs one
// (see createTestDb) and dropped once the run ends.
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await dropTemplate();
  },
};

/**
 * Mocha runs without `exit: true`: the process ends when everything is closed. After the run (and
 * its report), a handle still open LEAK_GRACE_MS later (default 3 s) is named and the run exits 1.
 */
export function mochaGlobalTeardown() {
  failOnOpenHandles(Number(process.env.LEAK_GRACE_MS ?? 3_000));
}
