import { Router, type Request, type Response } from 'express';
import { createApiKey, listApiKeys, operatorKeys, resellerIdByUsername, revokeApiKey } from '../shared/accounts/api-keys';
import type { BulkDeps } from '../shared/bulk/kind';
import { me, requireOperator, requireReseller } from './auth';

type Reply = [status: number, body: unknown];
const send = (fn: (req: Request, res: Response) => Promise<Reply>) => async (req: Request, res: Response) => {
  const [status, body] = await fn(req, res);
  res.status(status).json(body);
};

/** The key the caller authenticated with (bearer or the key its console session was opened with). */
const callerKey = (res: Response) => (res.locals.apiKeyId ? Number(res.locals.apiKeyId) : undefined);
const p = (req: Request, name: string) => String(req.params[name]);

/** API keys a reseller controls (create, list, revoke) and the operator's key actions. */
export function keyRoutes(deps: BulkDeps): Router {
  const { db } = deps;
  // ADMIN_API_KEY and, while rotated out, ADMIN_API_KEY_PREVIOUS (a warning line per use of the latter).
  const keys = operatorKeys(deps.config, deps.log);
  const operator = requireOperator(db, keys, deps.authThrottle);
  const reseller = requireReseller(db, keys, { publicUrl: deps.config.PUBLIC_URL, clock: deps.clock }, deps.authThrottle);
  const r = Router();

  // Reseller: its own keys; a key is shown once, in the 201 of its creation.
  r.get(
    '/v1/api-keys',
    reseller,
    send(async (req, res) => [200, await listApiKeys(db, me(res).id, req.query, callerKey(res))]),
  );
  r.post(
    '/v1/api-keys',
    reseller,
    send(async (req, res) => [201, await createApiKey(deps, me(res).id, req.body, 'reseller', callerKey(res))]),
  );
  r.post(
    '/v1/api-keys/:id/revoke',
    reseller,
    send(async (req, res) => [200, await revokeApiKey(deps, me(res).id, p(req, 'id'), 'reseller', callerKey(res))]),
  );

  // Operator: any reseller's keys, by username.
  const owner = (req: Request) => resellerIdByUsername(db, p(req, 'username'));
  r.get(
    '/v1/admin/resellers/:username/api-keys',
    operator,
    send(async (req) => [200, await listApiKeys(db, await owner(req), req.query)]),
  );
  r.post(
    '/v1/admin/resellers/:username/api-keys',
    operator,
    send(async (req) => [201, await createApiKey(deps, await owner(req), req.body, 'operator')]),
  );
  r.post(
    '/v1/admin/resellers/:username/api-keys/:id/revoke',
    operator,
    send(async (req) => [200, await revokeApiKey(deps, await owner(req), p(req, 'id'), 'operator')]),
  );
  return r;
}
