import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, type Brand, type Page, api } from '../api';
import { ErrorBox, Field } from '../ui';

export function BrandsPage() {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ['brands'], queryFn: () => api<Page<Brand>>('GET', '/v1/brands') });
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: () => api('POST', '/v1/brands', { name }),
    onSuccess: () => {
      setName('');
      qc.invalidateQueries({ queryKey: ['brands'] });
    },
  });
  return (
    <section aria-labelledby="brands-title">
      <h1 id="brands-title">Brands</h1>
      <p className="lead">
        A brand received with pushed domains is a read-only copy without a name: it keeps those domains' layout. To change it, make a new
        brand.
      </p>
      <form
        className="inline-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Field label="Brand name" error={create.error instanceof ApiError ? create.error.message : undefined}>
          {(p) => <input {...p} required value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <button type="submit" disabled={create.isPending}>
          Add brand
        </button>
      </form>
      <ErrorBox error={list.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Brands</caption>
          <thead>
            <tr>
              <th scope="col">Brand</th>
              <th scope="col">Editing</th>
              <th scope="col" className="wide-only">
                Settings
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((b) => (
              <tr key={b.id}>
                <td>{b.name ?? <em>Unlabelled copy (brand #{b.id})</em>}</td>
                <td>{b.editable ? 'Editable' : <span className="badge badge-readonly">Read-only (copied)</span>}</td>
                <td className="wide-only">
                  <code className="settings">{JSON.stringify(b.settings)}</code>
                </td>
              </tr>
            ))}
            {list.isPending && (
              <tr>
                <td colSpan={3}>Loading…</td>
              </tr>
            )}
            {list.data?.items.length === 0 && (
              <tr>
                <td colSpan={3}>No brands yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
