import { z } from 'zod';
import { domainListQuery, getDomain, listDomains } from '../../shared/catalog/domain-reads';
import { importDomains, importDomainsInput, setDomainContact } from '../../shared/catalog/domains';
import { contactSchema } from '../../shared/catalog/profiles';
import { parseInput } from '../../shared/platform/validation';
import { me } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param, type Routes, send } from './route';

/** The operator's import: domains with their brand, profile and customer. */
export const domainImport: Routes = {
  'POST /v1/admin/domains/import': {
    handle: ({ db }) => send(async (req) => [201, await importDomains(db, parseInput(importDomainsInput, req.body))]),
    audit: {
      action: 'domain.import',
      target: 'domain',
      targetId: () => null,
      details: (req, b) => ({ rows: Array.isArray(req.body) ? req.body.length : undefined, result: b }),
    },
    summary: 'Load domains (brand by name, profile by username or created)',
    tag: 'Operator',
    auth: 'operator',
    body: importDomainsInput,
    replies: { 201: json('how many were imported', R.ImportResult) },
    errors: { 400: ['invalid_domains', 'unknown_reseller', 'unknown_customer'] },
  },
};

/** A reseller's domains and their registrant contact. */
export const domains: Routes = {
  'GET /v1/domains': {
    handle: ({ db }) => send(async (req, res) => [200, await listDomains(db, me(res), req.query)]),
    summary: 'Your domains, filterable by `locked` and `q` (substring)',
    tag: 'Domains',
    auth: 'reseller',
    query: domainListQuery,
    replies: {
      200: json(
        'a page of domains (without layouts: see one domain), with `total`: every domain matching the filter',
        R.page(R.DomainListItem).extend({ total: z.number().int().describe('domains matching the filter, all pages') }),
      ),
    },
  },
  'GET /v1/domains/:name': {
    handle: ({ db }) => send(async (req, res) => [200, await getDomain(db, me(res), param(req, 'name'))]),
    summary: 'One of your domains',
    tag: 'Domains',
    auth: 'reseller',
    replies: { 200: json('the domain', R.Domain) },
  },
  'PUT /v1/domains/:name/contact': {
    handle: ({ db }) =>
      send(async (req, res) => [200, await setDomainContact(db, me(res), param(req, 'name'), parseInput(contactSchema, req.body))]),
    audit: { action: 'domain.contact_update', target: 'domain' },
    summary: 'Change the registrant contact of your domain',
    description:
      'Contact fields (all optional strings): `first_name`, `last_name`, `org_name` (≤ 200), `email` (≤ 320), `phone` (≤ 50), `address` (≤ 500), `country` (ISO 3166-1 alpha-2). Unknown fields are refused.',
    tag: 'Domains',
    auth: 'reseller',
    body: contactSchema,
    bodyRequired: true,
    replies: { 200: json('the domain and its registrant profile', R.DomainContact) },
    errors: { 409: ['invalid_state'] },
  },
};
