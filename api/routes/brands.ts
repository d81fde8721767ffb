import { createBrand, createBrandInput, listBrands, updateBrand, updateBrandInput } from '../../shared/catalog/brands';
import { listQuery, parseInput } from '../../shared/platform/validation';
import { me } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param, type Routes, send, fieldOf } from './route';

/** A reseller's brands; a copy made by a push is read-only. */
export const brands: Routes = {
  'GET /v1/brands': {
    handle: ({ db }) => send(async (req, res) => [200, await listBrands(db, me(res), req.query)]),
    summary: 'Your brands',
    tag: 'Brands',
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of brands', R.page(R.Brand)) },
  },
  'POST /v1/brands': {
    handle: ({ db }) => send(async (req, res) => [201, await createBrand(db, me(res), parseInput(createBrandInput, req.body))]),
    audit: { action: 'brand.create', target: 'brand', details: (_q, b) => ({ name: fieldOf(b, 'name') }) },
    summary: 'Create a brand',
    tag: 'Brands',
    auth: 'reseller',
    body: createBrandInput,
    replies: { 201: json('the brand', R.Brand) },
  },
  'PATCH /v1/brands/:id': {
    handle: ({ db }) =>
      send(async (req, res) => [200, await updateBrand(db, me(res), param(req, 'id'), parseInput(updateBrandInput, req.body))]),
    audit: { action: 'brand.update', target: 'brand', details: (req) => ({ name: fieldOf(req.body, 'name') }) },
    summary: 'Edit a brand (a copy made by a push is read-only)',
    tag: 'Brands',
    auth: 'reseller',
    body: updateBrandInput,
    replies: { 200: json('the brand', R.Brand) },
    errors: { 409: ['brand_not_editable'] },
  },
};
