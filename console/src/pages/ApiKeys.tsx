import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, type Page, api, formatDate } from '../api';
import { ConfirmDialog, CopyValue, ErrorBox, Field } from '../ui';

/** A key as `GET /v1/api-keys` lists it: never the key, only its prefix. */
interface ApiKey {
  id: string;
  prefix: string;
  label: string | null;
  created_at: string;
  created_via: 'signup' | 'reseller' | 'operator' | null;
  last_used_at: string | null;
  revoked_at: string | null;
  revoked_via: 'reseller' | 'operator' | null;
  /** The key this console session was signed in with. */
  current: boolean;
}

const name = (k: ApiKey) => `${k.prefix}…${k.label ? ` (${k.label})` : ''}`;

/**
 * "API keys": create another key (shown once, with a copy button, until "Done" hides it), list the
 * keys (prefix, label, created, last used) and revoke one after a confirmation that names it.
 */
export function ApiKeysPage() {
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => api<Page<ApiKey>>('GET', '/v1/api-keys?limit=1000') });
  const [label, setLabel] = useState('');
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['api-keys'] });
  const create = useMutation({
    // The new key lives only in this page's state: gone once hidden or the page is left.
    gcTime: 0,
    mutationFn: () => api<ApiKey & { api_key: string }>('POST', '/v1/api-keys', label.trim() ? { label: label.trim() } : {}),
    onSuccess: () => {
      setLabel('');
      refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (k: ApiKey) => api<ApiKey>('POST', `/v1/api-keys/${encodeURIComponent(k.id)}/revoke`),
    onSuccess: (k) => {
      setRevoking(null);
      // Revoking the session's own key ends this session: the next call shows the sign-in.
      if (k.current) qc.invalidateQueries({ queryKey: ['me'] });
      else refresh();
    },
  });
  const fresh = create.data;
  const items = keys.data?.items ?? [];
  const live = items.filter((k) => !k.revoked_at);

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <p className="lead">
        A key lets a script or the <code>domain-push</code> CLI act for your account. It is shown once, when you create it. Revoke a key you
        no longer use or that may have leaked: it stops working at once, and console sessions signed in with it end.
      </p>

      {fresh ? (
        <section className="panel" aria-labelledby="new-key-title">
          <h2 id="new-key-title">Your new key{fresh.label ? `: ${fresh.label}` : ''}</h2>
          <p className="warning">
            <strong>This is the only time the key is shown.</strong> Copy it now into where it will be used (a password manager, your CI's
            secrets). Only its beginning, <code>{fresh.prefix}…</code>, is shown from now on.
          </p>
          <CopyValue id="new-api-key" value={fresh.api_key} buttonLabel="Copy key" />
          <div className="actions">
            <button type="button" onClick={() => create.reset()}>
              Done, hide the key
            </button>
          </div>
        </section>
      ) : (
        <form
          className="inline-form"
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Field
            label="Label (optional)"
            hint="What the key is for, e.g. CI or laptop."
            error={create.error instanceof ApiError ? create.error.message : undefined}
          >
            {(p) => <input {...p} maxLength={100} value={label} onChange={(e) => setLabel(e.target.value)} />}
          </Field>
          <button type="submit" disabled={create.isPending}>
            Create key
          </button>
        </form>
      )}

      <h2>Your keys</h2>
      <ErrorBox error={keys.error} />
      {keys.isPending && <p className="loading">Loading…</p>}
      {keys.data && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your API keys</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col" className="wide-only">
                  Created
                </th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((k) => (
                <tr key={k.id}>
                  <td>
                    <code>{k.prefix}…</code>
                    {k.label && <div>{k.label}</div>}
                  </td>
                  <td className="wide-only">{formatDate(k.created_at)}</td>
                  <td>{k.last_used_at ? formatDate(k.last_used_at) : 'never'}</td>
                  <td>
                    {k.revoked_at ? (
                      <>
                        <span className="badge badge-cancelled">revoked</span>
                        <div className="sub">{formatDate(k.revoked_at)}</div>
                      </>
                    ) : (
                      <span className="badge badge-completed">live</span>
                    )}
                    {k.current && <div className="sub">this session's key</div>}
                  </td>
                  <td>
                    {!k.revoked_at && (
                      <button
                        type="button"
                        className="link"
                        aria-label={`Revoke ${name(k)}`}
                        onClick={() => {
                          revoke.reset();
                          setRevoking(k);
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <ConfirmDialog
        open={revoking !== null}
        title={revoking ? `Revoke key ${name(revoking)}?` : 'Revoke key?'}
        confirmLabel="Revoke key"
        cancelLabel="Keep key"
        busy={revoke.isPending || live.length <= 1}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        onClose={() => setRevoking(null)}
      >
        {revoking && (
          <>
            <p>
              Created {formatDate(revoking.created_at)}, last used {revoking.last_used_at ? formatDate(revoking.last_used_at) : 'never'}. It
              stops working at once: scripts and the CLI using it are refused, and console sessions signed in with it end. This cannot be
              undone; a new key can be created instead.
            </p>
            {revoking.current && <p className="warning">You are signed in with this key: revoking it signs you out of this console.</p>}
            {live.length <= 1 && (
              <p className="warning">This is your last live key. Create another key before you revoke it, so you are not locked out.</p>
            )}
            <ErrorBox error={revoke.error} />
          </>
        )}
      </ConfirmDialog>
    </section>
  );
}
