import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Express } from 'express';

export const DASHBOARD_PATH = '/admin/queues';

/** bull-board with every queue the system has; mounted behind operator auth by the app. */
export function dashboardRouter(queues: Queue[], opts: { readOnly?: boolean } = {}) {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !!opts.readOnly })), serverAdapter: adapter });
  const router = adapter.getRouter() as Express;
  // bull-board mounts an Express app of its own, which would announce itself again.
  router.disable?.('x-powered-by');
  return router;
}
