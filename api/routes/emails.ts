import { getEmail, listEmails } from '../../shared/mail/capture';
import { listQuery } from '../../shared/platform/validation';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param, type Routes, send } from './route';

/** The operator's view of the outbox (the HTML mailbox is api/mailbox.ts). */
export const emails: Routes = {
  'GET /v1/admin/emails': {
    handle: ({ db }) => send(async (req) => [200, await listEmails(db, req.query)]),
    summary: 'The outbox: every email, sent or not (the HTML mailbox is at /admin/emails)',
    tag: 'Operator',
    auth: 'operator',
    query: listQuery,
    replies: { 200: json('a page of emails, newest first', R.page(R.EmailSummary)) },
  },
  'GET /v1/admin/emails/:id': {
    handle: ({ db }) => send(async (req) => [200, await getEmail(db, param(req, 'id'))]),
    summary: 'One email with its text, HTML and attachments',
    tag: 'Operator',
    auth: 'operator',
    replies: { 200: json('the email', R.Email) },
  },
};
