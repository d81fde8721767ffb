import { createProfile, createProfileInput, listProfiles } from '../../shared/catalog/profiles';
import { listQuery, parseInput } from '../../shared/platform/validation';
import { me } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { type Routes, send, fieldOf } from './route';

/** Registrant profiles (user accounts) of a reseller. */
export const profiles: Routes = {
  'GET /v1/profiles': {
    handle: ({ db }) => send(async (req, res) => [200, await listProfiles(db, me(res), req.query)]),
    summary: 'Registrant profiles (user accounts)',
    tag: 'Profiles',
    auth: 'reseller',
    query: listQuery,
    replies: { 200: json('a page of profiles', R.page(R.Profile)) },
  },
  'POST /v1/profiles': {
    handle: ({ db }) => send(async (req, res) => [201, await createProfile(db, me(res).id, parseInput(createProfileInput, req.body))]),
    audit: {
      action: 'profile.create',
      target: 'profile',
      details: (_q, b) => ({ username: fieldOf(b, 'username'), domain: fieldOf(b, 'domain') }),
    },
    summary: 'Create a registrant profile (the password is stored as a scrypt hash)',
    description:
      '`contact` fields (all optional strings): `first_name`, `last_name`, `org_name`, `email`, `phone`, `address`, `country` (ISO 3166-1 alpha-2).',
    tag: 'Profiles',
    auth: 'reseller',
    body: createProfileInput,
    replies: { 201: json('the profile', R.Profile) },
    errors: { 409: ['conflict'] },
  },
};
