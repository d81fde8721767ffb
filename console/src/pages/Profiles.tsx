import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, type Page, type Profile, api, formatDate } from '../api';
import { ErrorBox, Field } from '../ui';

export function ProfilesPage() {
  const qc = useQueryClient();
  const list = useInfiniteQuery({
    queryKey: ['profiles'],
    queryFn: ({ pageParam }) => api<Page<Profile>>('GET', `/v1/profiles?limit=100${pageParam ? `&cursor=${pageParam}` : ''}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];
  const [form, setForm] = useState({ domain: '', username: '', password: '' });
  const create = useMutation({
    mutationFn: () => api('POST', '/v1/profiles', form),
    onSuccess: () => {
      setForm({ domain: '', username: '', password: '' });
      qc.invalidateQueries({ queryKey: ['profiles'] });
    },
  });
  const fields = create.error instanceof ApiError ? create.error.fieldMessages() : {};
  return (
    <section aria-labelledby="profiles-title">
      <h1 id="profiles-title">Profiles</h1>
      <p className="lead">Registrant user accounts. A push can put the domains it moves into one of the gaining reseller's profiles.</p>
      <form
        className="inline-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Field label="Domain" error={fields.domain}>
          {(p) => <input {...p} required value={form.domain} onChange={(e) => setForm({ ...form, domain: e.target.value })} />}
        </Field>
        <Field label="Username" error={fields.username}>
          {(p) => (
            <input
              {...p}
              required
              autoComplete="off"
              value={form.username}
              onChange={(e) => setForm({ ...form, username: e.target.value })}
            />
          )}
        </Field>
        <Field label="Password" error={fields.password} hint="At least 8 characters.">
          {(p) => (
            <input
              {...p}
              type="password"
              required
              autoComplete="new-password"
              value={form.password}
              onChange={(e) => setForm({ ...form, password: e.target.value })}
            />
          )}
        </Field>
        <button type="submit" disabled={create.isPending}>
          Add profile
        </button>
      </form>
      {create.error && !Object.keys(fields).length && <ErrorBox error={create.error} />}
      <ErrorBox error={list.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Profiles</caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Domain</th>
              <th scope="col" className="wide-only">
                Created
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.id}>
                <td>{p.username}</td>
                <td>{p.domain}</td>
                <td className="wide-only">{formatDate(p.created_at)}</td>
              </tr>
            ))}
            {list.isPending && (
              <tr>
                <td colSpan={3}>Loading…</td>
              </tr>
            )}
            {rows.length === 0 && list.isSuccess && (
              <tr>
                <td colSpan={3}>No profiles yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {list.hasNextPage && (
        <button type="button" className="secondary" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          Show more profiles
        </button>
      )}
    </section>
  );
}
