import { createTemplate, dropTemplate } from './helpers/db';

// Mocha root hooks: one migrated template database per run; each test file clones it.
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await createTemplate();
  },
  async afterAll() {
    await dropTemplate();
  },
};
