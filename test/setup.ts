import { dropTemplate } from './helpers/db';

// Mocha root hook: the migrated template database is made by the first test that needs one
// (see createTestDb) and dropped once the run ends.
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await dropTemplate();
  },
};
