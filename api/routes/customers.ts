import {
  createCustomer,
  createCustomerInput,
  customerListQuery,
  getCustomer,
  listCustomers,
  updateCustomer,
  updateCustomerInput,
} from '../../shared/customers/customers';
import {
  addPackageDomain,
  addPackageDomainInput,
  createPackage,
  createPackageInput,
  getPackage,
  listPackages,
  removePackageDomain,
} from '../../shared/customers/packages';
import { releaseCustomer, releaseCustomerInput } from '../../shared/customers/release-start';
import { listQuery, parseInput } from '../../shared/platform/validation';
import { me } from '../auth';
import { json, type Operation } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param as p, type Routes, send, fieldOf } from './route';

/** Every route here is a reseller's own, documented under Customers. */
const RESELLER: Pick<Operation, 'tag' | 'auth'> = { tag: 'Customers', auth: 'reseller' };
/** A released customer refuses any change to it or its packages, as does a concurrent change. */
const CHANGE_REFUSED: Record<number, string[]> = { 409: ['already_released', 'conflict'] };

/** Customers of a reseller, their service packages, and release (a bulk job of kind release, viewed under /v1/jobs/:id). */
export const customers: Routes = {
  'POST /v1/customers': {
    handle: ({ db }) => send(async (req, res) => [201, await createCustomer(db, me(res), parseInput(createCustomerInput, req.body))]),
    audit: { action: 'customer.create', target: 'customer' },
    summary: 'Create a customer',
    ...RESELLER,
    body: createCustomerInput,
    replies: { 201: json('the customer', R.Customer) },
  },
  'GET /v1/customers': {
    handle: ({ db }) => send(async (req, res) => [200, await listCustomers(db, me(res), req.query)]),
    summary: 'Your customers, `?status=active|released`',
    ...RESELLER,
    query: customerListQuery,
    replies: { 200: json('a page of customers', R.page(R.Customer)) },
  },
  'GET /v1/customers/:id': {
    handle: ({ db }) => send(async (req, res) => [200, await getCustomer(db, me(res), p(req, 'id'))]),
    summary: 'One customer with its last release',
    ...RESELLER,
    replies: { 200: json('the customer', R.Customer) },
  },
  'PATCH /v1/customers/:id': {
    handle: ({ db }) =>
      send(async (req, res) => [200, await updateCustomer(db, me(res), p(req, 'id'), parseInput(updateCustomerInput, req.body))]),
    audit: { action: 'customer.update', target: 'customer' },
    summary: 'Fix contact details',
    ...RESELLER,
    body: updateCustomerInput,
    replies: { 200: json('the customer', R.Customer) },
    errors: CHANGE_REFUSED,
  },
  'POST /v1/customers/:id/packages': {
    handle: ({ db }) =>
      send(async (req, res) => [201, await createPackage(db, me(res), p(req, 'id'), parseInput(createPackageInput, req.body))]),
    audit: {
      action: 'package.create',
      target: 'service_package',
      targetId: (_q, b) => fieldOf(b, 'id'),
      details: (req, b) => ({ customer_id: req.params.id, name: fieldOf(b, 'name') }),
    },
    summary: 'Create a service package',
    ...RESELLER,
    body: createPackageInput,
    replies: { 201: json('the package', R.Package) },
    errors: CHANGE_REFUSED,
  },
  'GET /v1/customers/:id/packages': {
    handle: ({ db }) => send(async (req, res) => [200, await listPackages(db, me(res), p(req, 'id'), req.query)]),
    summary: "A customer's service packages",
    ...RESELLER,
    query: listQuery,
    replies: { 200: json('a page of packages', R.page(R.Package)) },
  },
  'GET /v1/customers/:id/packages/:pid': {
    handle: ({ db }) => send(async (req, res) => [200, await getPackage(db, me(res), p(req, 'id'), p(req, 'pid'))]),
    summary: 'One service package',
    ...RESELLER,
    replies: { 200: json('the package', R.Package) },
  },
  'POST /v1/customers/:id/packages/:pid/domains': {
    handle: ({ db }) =>
      send(async (req, res) => [
        201,
        await addPackageDomain(db, me(res), p(req, 'id'), p(req, 'pid'), parseInput(addPackageDomainInput, req.body)),
      ]),
    audit: {
      action: 'package.domain_add',
      target: 'service_package',
      targetId: (req) => String(req.params.pid),
      details: (req) => ({ customer_id: req.params.id, domain: fieldOf(req.body, 'domain'), virtual: req.body?.virtual === true }),
    },
    summary: 'Assign a registered domain (registrant = this customer) or a virtual one',
    ...RESELLER,
    body: addPackageDomainInput,
    replies: { 201: json('the package domain', R.PackageDomain) },
    errors: { 400: ['invalid_domains'], 409: ['conflict', 'already_released'], 422: ['wrong_registrant', 'registered_domain'] },
  },
  'DELETE /v1/customers/:id/packages/:pid/domains/:domain': {
    handle: ({ db }) =>
      send(async (req, res) => {
        await removePackageDomain(db, me(res), p(req, 'id'), p(req, 'pid'), p(req, 'domain'));
        return [204, null];
      }),
    audit: {
      action: 'package.domain_remove',
      target: 'service_package',
      targetId: (req) => String(req.params.pid),
      details: (req) => ({ customer_id: req.params.id, domain: req.params.domain }),
    },
    summary: 'Remove a domain from a package',
    ...RESELLER,
    replies: { 204: { description: 'removed' } },
    errors: CHANGE_REFUSED,
  },
  'POST /v1/customers/:id/release': {
    handle: ({ deps }) =>
      send(async (req, res) => [202, await releaseCustomer(deps, me(res), p(req, 'id'), parseInput(releaseCustomerInput, req.body ?? {}))]),
    audit: {
      action: 'customer.release',
      target: 'customer',
      details: (_q, b) => ({ job_id: fieldOf(b, 'id'), total: fieldOf(b, 'total') }),
    },
    summary: 'Release a customer with all their products (a bulk job of kind release)',
    ...RESELLER,
    body: releaseCustomerInput,
    replies: { 202: json('the release job; view it under /v1/jobs/{id}', R.ReleaseAccepted) },
    errors: { ...CHANGE_REFUSED, 422: ['invalid_contact'], 429: ['too_many_jobs'], 503: ['queue_unavailable'] },
  },
};
