import { createReseller, createResellerInput, listResellers, updateReseller, updateResellerInput } from '../../shared/accounts/resellers';
import { listQuery, parseInput } from '../../shared/platform/validation';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param, type Routes, send, fieldOf } from './route';

/** The operator's resellers: create, list, enable push and change settings. */
export const resellers: Routes = {
  'POST /v1/admin/resellers': {
    handle: ({ db }) => send(async (req) => [201, await createReseller(db, parseInput(createResellerInput, req.body))]),
    audit: {
      action: 'reseller.create',
      target: 'reseller',
      targetId: (_q, b) => fieldOf(b, 'username'),
      owner: (_q, b) => fieldOf(b, 'username'),
      details: (req) => ({ username: fieldOf(req.body, 'username'), name: fieldOf(req.body, 'name') }),
    },
    summary: 'Create a reseller (push is off until enabled)',
    tag: 'Operator',
    auth: 'operator',
    body: createResellerInput,
    replies: { 201: json('the reseller, with its API key shown once', R.ResellerCreated) },
    errors: { 409: ['username_taken'] },
  },
  'GET /v1/admin/resellers': {
    handle: ({ db }) => send(async (req) => [200, await listResellers(db, req.query)]),
    summary: 'All resellers',
    tag: 'Operator',
    auth: 'operator',
    query: listQuery,
    replies: { 200: json('a page of resellers', R.page(R.Reseller)) },
  },
  'PATCH /v1/admin/resellers/:username': {
    handle: ({ db }) =>
      send(async (req) => [200, await updateReseller(db, param(req, 'username'), parseInput(updateResellerInput, req.body))]),
    audit: { action: 'reseller.update', target: 'reseller', details: (req) => ({ changes: req.body }) },
    summary: 'Enable push, change settings',
    tag: 'Operator',
    auth: 'operator',
    body: updateResellerInput,
    replies: { 200: json('the reseller', R.Reseller) },
    errors: { 404: ['unknown_reseller'] },
  },
};
