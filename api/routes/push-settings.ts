import {
  allowReseller,
  allowResellerInput,
  getPushSettings,
  notificationEmailInput,
  revokeReseller,
  setNotificationEmail,
} from '../../shared/accounts/push-settings';
import { parseInput } from '../../shared/platform/validation';
import { me } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { param, type Routes, send, fieldOf } from './route';

/** Who may push to a reseller (allowed resellers) and where to notify it. */
export const pushSettings: Routes = {
  'GET /v1/push-settings': {
    handle: ({ db }) => send(async (_q, res) => [200, await getPushSettings(db, me(res))]),
    summary: 'Your company_id, allowed resellers and notification email',
    tag: 'Push settings',
    auth: 'reseller',
    replies: { 200: json('push settings', R.PushSettings) },
  },
  'POST /v1/push-settings/allowed-resellers': {
    handle: ({ db }) =>
      send(async (req, res) => [201, await allowReseller(db, me(res), parseInput(allowResellerInput, req.body).reseller)]),
    audit: { action: 'push_settings.allow', target: 'reseller', targetId: (_q, b) => fieldOf(b, 'username') },
    summary: 'Allow a reseller (username or company_id) to push to you; idempotent',
    tag: 'Push settings',
    auth: 'reseller',
    body: allowResellerInput,
    replies: { 201: json('the allowed reseller', R.AllowedReseller) },
    errors: { 404: ['unknown_reseller'] },
  },
  'DELETE /v1/push-settings/allowed-resellers/:username': {
    handle: ({ db }) =>
      send(async (req, res) => {
        await revokeReseller(db, me(res), param(req, 'username'));
        return [204, null];
      }),
    audit: { action: 'push_settings.revoke', target: 'reseller' },
    summary: 'Revoke an allowed reseller',
    tag: 'Push settings',
    auth: 'reseller',
    replies: { 204: { description: 'revoked' } },
  },
  'PUT /v1/push-settings/notification-email': {
    handle: ({ db }) =>
      send(async (req, res) => [200, await setNotificationEmail(db, me(res), parseInput(notificationEmailInput, req.body).email)]),
    audit: {
      action: 'push_settings.notification_email',
      target: 'push_settings',
      targetId: () => null,
      details: (req) => ({ email: req.body?.email ?? null }),
    },
    summary: 'Where to notify you of domains received (`null` for nowhere)',
    tag: 'Push settings',
    auth: 'reseller',
    body: notificationEmailInput,
    replies: { 200: json('the notification email', R.NotificationEmail) },
  },
};
