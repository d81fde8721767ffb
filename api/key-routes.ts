import { Router } from 'express';
import type { BulkDeps } from '../shared/bulk/kind';

/** API keys a reseller controls (create, list, revoke) and the operator's key actions. */
export function keyRoutes(_deps: BulkDeps): Router {
  return Router();
}
