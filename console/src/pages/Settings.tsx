import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { ApiError, type PushSettings, api, formatDate } from '../api';
import { CopyValue, ErrorBox, Field } from '../ui';

export function SettingsPage() {
  const qc = useQueryClient();
  const settings = useQuery({ queryKey: ['push-settings'], queryFn: () => api<PushSettings>('GET', '/v1/push-settings') });
  const [handle, setHandle] = useState('');
  const [email, setEmail] = useState('');
  useEffect(() => {
    if (settings.data) setEmail(settings.data.notification_email ?? '');
  }, [settings.data]);
  const refresh = () => qc.invalidateQueries({ queryKey: ['push-settings'] });
  const add = useMutation({
    mutationFn: (reseller: string) => api('POST', '/v1/push-settings/allowed-resellers', { reseller }),
    onSuccess: () => {
      setHandle('');
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (username: string) => api('DELETE', `/v1/push-settings/allowed-resellers/${encodeURIComponent(username)}`),
    onSuccess: refresh,
  });
  const saveEmail = useMutation({
    mutationFn: (value: string) => api('PUT', '/v1/push-settings/notification-email', { email: value.trim() || null }),
    onSuccess: refresh,
  });
  const s = settings.data;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Push domain settings</h1>
      <ErrorBox error={settings.error} />
      {settings.isPending && <p className="loading">Loading…</p>}
      {s && (
        <>
          <p>
            Domain push is <strong>{s.domain_push_enabled ? 'enabled' : 'not enabled'}</strong> for your account
            {s.domain_push_enabled ? '.' : ' (the platform operator turns it on).'}
          </p>
          <h2>Your company_id</h2>
          <p className="lead">A reseller who is to receive domains from you adds this id to their allowed resellers.</p>
          <CopyValue id="company-id" value={s.company_id} buttonLabel="Copy company_id" />

          <h2>Allowed resellers</h2>
          <p className="lead">Only these resellers may push domains to you.</p>
          <form
            className="inline-form"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              add.mutate(handle);
            }}
          >
            <Field label="Username or company_id" error={add.error instanceof ApiError ? add.error.message : undefined}>
              {(p) => <input {...p} required value={handle} onChange={(e) => setHandle(e.target.value)} />}
            </Field>
            <button type="submit" disabled={add.isPending}>
              Add reseller
            </button>
          </form>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Allowed resellers</caption>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col" className="wide-only">
                    Name
                  </th>
                  <th scope="col">company_id</th>
                  <th scope="col" className="wide-only">
                    Allowed since
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {s.allowed_resellers.map((r) => (
                  <tr key={r.username}>
                    <td>{r.username}</td>
                    <td className="wide-only">{r.name}</td>
                    <td>
                      <code>{r.company_id}</code>
                    </td>
                    <td className="wide-only">{formatDate(r.authorized_at)}</td>
                    <td>
                      <button type="button" className="link" aria-label={`Remove ${r.username}`} onClick={() => remove.mutate(r.username)}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
                {s.allowed_resellers.length === 0 && (
                  <tr>
                    <td colSpan={5}>Nobody may push domains to you yet.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <ErrorBox error={remove.error} />

          <h2>Notification email</h2>
          <form
            className="inline-form"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              saveEmail.mutate(email);
            }}
          >
            <Field
              label="Notification email"
              hint="Told about every push you receive. Leave empty for no notification."
              error={saveEmail.error instanceof ApiError ? saveEmail.error.message : undefined}
            >
              {(p) => <input {...p} type="email" value={email} onChange={(e) => setEmail(e.target.value)} />}
            </Field>
            <button type="submit" disabled={saveEmail.isPending}>
              Save notification email
            </button>
            <span aria-live="polite">{saveEmail.isSuccess ? 'Saved' : ''}</span>
          </form>
        </>
      )}
    </section>
  );
}
