import { resellerView } from '../../shared/accounts/resellers';
import { me as caller } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { type Routes, send } from './route';

/** The calling reseller. */
export const me: Routes = {
  'GET /v1/me': {
    handle: () => send(async (_q, res) => [200, resellerView(caller(res))]),
    summary: 'The calling reseller',
    tag: 'Account',
    auth: 'reseller',
    replies: { 200: json('you', R.Reseller) },
  },
};
