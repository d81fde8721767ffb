import type { Request, Response } from 'express';
import {
  createApiKey,
  createApiKeyInput,
  listApiKeys,
  MAX_LIVE_KEYS,
  resellerIdByUsername,
  revokeApiKey,
} from '../../shared/accounts/api-keys';
import type { Db } from '../../shared/platform/db';
import { listQuery } from '../../shared/platform/validation';
import { me } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param, type Routes, send, fieldOf } from './route';

/** The key the caller authenticated with (bearer or the key its console session was opened with). */
const callerKey = (res: Response) => (res.locals.apiKeyId ? Number(res.locals.apiKeyId) : undefined);
/** The reseller named in an operator's path. */
const owner = (db: Db, req: Request) => resellerIdByUsername(db, param(req, 'username'));

/** API keys a reseller controls (a key is shown once, in the 201 of its creation) and the operator's key actions. */
export const apiKeys: Routes = {
  'GET /v1/api-keys': {
    handle: ({ db }) => send(async (req, res) => [200, await listApiKeys(db, me(res).id, req.query, callerKey(res))]),
    summary: 'Your API keys, live and revoked: prefix, label, created, last used, revoked (never the key)',
    tag: 'Account',
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of keys, oldest first', R.page(R.ApiKey)) },
  },
  'POST /v1/api-keys': {
    handle: ({ deps }) => send(async (req, res) => [201, await createApiKey(deps, me(res).id, req.body, 'reseller', callerKey(res))]),
    audit: {
      action: 'api_key.create',
      target: 'api_key',
      details: (req, b) => ({ label: fieldOf(req.body, 'label'), prefix: fieldOf(b, 'prefix') }),
    },
    summary: 'Create another API key; the answer is the only time the key is shown',
    description: `At most ${MAX_LIVE_KEYS} live keys per reseller (409 \`too_many_keys\`). A retried create makes another key: revoke the spare one.`,
    tag: 'Account',
    auth: 'reseller',
    body: createApiKeyInput,
    bodyRequired: false,
    replies: { 201: json('the key, shown once', R.ApiKeyCreated) },
    errors: { 409: ['too_many_keys'] },
  },
  'POST /v1/api-keys/:id/revoke': {
    handle: ({ deps }) =>
      send(async (req, res) => [200, await revokeApiKey(deps, me(res).id, param(req, 'id'), 'reseller', callerKey(res))]),
    audit: { action: 'api_key.revoke', target: 'api_key', details: (_q, b) => ({ prefix: fieldOf(b, 'prefix') }) },
    summary: 'Revoke one of your keys: it stops working at once, its console sessions end, its event streams within seconds',
    description:
      "The key you call with may be revoked (this answer is its last). Your last live key may not (409 `last_key`): create another first. Revoking a revoked key answers it as it is; another reseller's key id is 404.",
    tag: 'Account',
    auth: 'reseller',
    replies: { 200: json('the revoked key', R.ApiKey) },
    errors: { 409: ['last_key'] },
  },

  // Operator: any reseller's keys, by username.
  'GET /v1/admin/resellers/:username/api-keys': {
    handle: ({ db }) => send(async (req) => [200, await listApiKeys(db, await owner(db, req), req.query)]),
    summary: "A reseller's API keys, live and revoked (prefix only)",
    tag: 'Operator',
    auth: 'operator',
    query: listQuery,
    replies: { 200: json('a page of keys, oldest first', R.page(R.ApiKey)) },
    errors: { 404: ['unknown_reseller'] },
  },
  'POST /v1/admin/resellers/:username/api-keys': {
    handle: ({ deps, db }) => send(async (req) => [201, await createApiKey(deps, await owner(db, req), req.body, 'operator')]),
    audit: {
      action: 'api_key.create',
      target: 'api_key',
      targetId: (_q, b) => fieldOf(b, 'id'),
      details: (req, b) => ({ reseller: req.params.username, label: fieldOf(req.body, 'label'), prefix: fieldOf(b, 'prefix') }),
    },
    summary: 'Issue a reseller a new API key (e.g. after revoking a leaked last key)',
    tag: 'Operator',
    auth: 'operator',
    body: createApiKeyInput,
    bodyRequired: false,
    replies: { 201: json('the key, shown once', R.ApiKeyCreated) },
    errors: { 404: ['unknown_reseller'], 409: ['too_many_keys'] },
  },
  'POST /v1/admin/resellers/:username/api-keys/:id/revoke': {
    handle: ({ deps, db }) => send(async (req) => [200, await revokeApiKey(deps, await owner(db, req), param(req, 'id'), 'operator')]),
    audit: {
      action: 'api_key.revoke',
      target: 'api_key',
      details: (req, b) => ({ reseller: req.params.username, prefix: fieldOf(b, 'prefix') }),
    },
    summary: "Revoke any of a reseller's keys, its last one included; its console sessions end, its event streams within seconds",
    tag: 'Operator',
    auth: 'operator',
    replies: { 200: json('the revoked key (a revoked key answers as it is)', R.ApiKey) },
    errors: { 404: ['unknown_reseller'] },
  },
};
