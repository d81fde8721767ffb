import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { ApiError, type Customer, type Page, type ServicePackage, api } from '../api';
import { Link } from '../router';
import { ConfirmDialog, ErrorBox, Field, StatusBadge } from '../ui';

export function CustomersPage() {
  const qc = useQueryClient();
  const list = useInfiniteQuery({
    queryKey: ['customers'],
    queryFn: ({ pageParam }) => api<Page<Customer>>('GET', `/v1/customers?limit=50${pageParam ? `&cursor=${pageParam}` : ''}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const customers = list.data?.pages.flatMap((p) => p.items) ?? [];
  const [form, setForm] = useState({ name: '', email: '' });
  const create = useMutation({
    mutationFn: () => api('POST', '/v1/customers', { name: form.name, ...(form.email.trim() ? { email: form.email.trim() } : {}) }),
    onSuccess: () => {
      setForm({ name: '', email: '' });
      qc.invalidateQueries({ queryKey: ['customers'] });
    },
  });
  const fields = create.error instanceof ApiError ? create.error.fieldMessages() : {};
  return (
    <section aria-labelledby="customers-title">
      <h1 id="customers-title">Customers</h1>
      <form
        className="inline-form"
        aria-label="Add customer"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Field label="Customer name" error={fields.name}>
          {(p) => <input {...p} required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />}
        </Field>
        <Field label="Contact email" error={fields.email}>
          {(p) => <input {...p} type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />}
        </Field>
        <button type="submit" disabled={create.isPending}>
          Add customer
        </button>
      </form>
      <ErrorBox error={list.error} />
      <ul className="cards">
        {customers.map((c) => (
          <CustomerCard key={c.id} customer={c} />
        ))}
        {list.isPending && <li>Loading…</li>}
        {customers.length === 0 && list.isSuccess && <li>No customers yet.</li>}
      </ul>
      {list.hasNextPage && (
        <button type="button" className="secondary" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          Show more customers
        </button>
      )}
    </section>
  );
}

function CustomerCard({ customer: c }: { customer: Customer }) {
  const qc = useQueryClient();
  const headingId = useId();
  const [open, setOpen] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [pkgName, setPkgName] = useState('');
  const packages = useQuery({
    queryKey: ['packages', c.id],
    queryFn: () => api<Page<ServicePackage>>('GET', `/v1/customers/${c.id}/packages?limit=200`),
    enabled: open,
  });
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ['packages', c.id] });
    qc.invalidateQueries({ queryKey: ['customers'] });
  };
  const addPackage = useMutation({
    mutationFn: () => api('POST', `/v1/customers/${c.id}/packages`, { name: pkgName }),
    onSuccess: () => {
      setPkgName('');
      refresh();
    },
  });
  const release = useMutation({
    mutationFn: () => api<{ id: string }>('POST', `/v1/customers/${c.id}/release`, {}),
    onSuccess: () => {
      setConfirm(false);
      refresh();
      qc.invalidateQueries({ queryKey: ['jobs'] });
    },
  });
  const released = c.status === 'released';
  return (
    <li className="card" aria-labelledby={headingId}>
      <div className="card-head">
        <h2 id={headingId}>{c.name}</h2>
        <StatusBadge status={c.status} />
      </div>
      <p>
        {c.email ?? <em>no contact email</em>} · {c.domains} domain{c.domains === 1 ? '' : 's'} · {c.packages} service package
        {c.packages === 1 ? '' : 's'}
      </p>
      {release.data && (
        <p role="status">
          Release started. <Link to={`/queue/${release.data.id}`}>Follow it in the Bulk actions queue</Link>.
        </p>
      )}
      {!released && (
        <div className="actions">
          <button type="button" className="secondary" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Hide service packages' : 'Service packages'}
          </button>
          <button type="button" className="danger" onClick={() => setConfirm(true)}>
            Release
          </button>
        </div>
      )}
      <ErrorBox error={release.error} />
      <ConfirmDialog
        open={confirm}
        title={`Release ${c.name}?`}
        confirmLabel="Release customer and all products"
        cancelLabel="Keep customer"
        busy={release.isPending}
        onConfirm={() => release.mutate()}
        onClose={() => setConfirm(false)}
      >
        <p>
          <strong>All products go with the customer:</strong> their {c.domains} domain{c.domains === 1 ? '' : 's'} and {c.packages} service
          package{c.packages === 1 ? '' : 's'} leave your account. It is not possible to release a customer and keep any of their products.
          The customer is emailed an invitation to claim their account.
        </p>
      </ConfirmDialog>
      {open && !released && (
        <div className="packages">
          <ErrorBox error={packages.error} />
          {packages.isPending && <p>Loading…</p>}
          {packages.data?.items.map((p) => (
            <PackageBlock key={p.id} customerId={c.id} pkg={p} onChange={refresh} />
          ))}
          {packages.data?.items.length === 0 && <p>No service packages yet.</p>}
          <form
            className="inline-form"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              addPackage.mutate();
            }}
          >
            <Field label={`New package for ${c.name}`} error={addPackage.error instanceof ApiError ? addPackage.error.message : undefined}>
              {(p) => <input {...p} required value={pkgName} onChange={(e) => setPkgName(e.target.value)} />}
            </Field>
            <button type="submit" disabled={addPackage.isPending}>
              Add package
            </button>
          </form>
        </div>
      )}
    </li>
  );
}

function PackageBlock({ customerId, pkg, onChange }: { customerId: string; pkg: ServicePackage; onChange: () => void }) {
  const [domain, setDomain] = useState('');
  const [virtual, setVirtual] = useState(false);
  const assign = useMutation({
    mutationFn: () => api('POST', `/v1/customers/${customerId}/packages/${pkg.id}/domains`, { domain, virtual }),
    onSuccess: () => {
      setDomain('');
      setVirtual(false);
      onChange();
    },
  });
  return (
    <div className="package">
      <h3>{pkg.name}</h3>
      <ul>
        {pkg.domains.map((d) => (
          <li key={d.domain}>
            {d.domain} {d.virtual && <span className="badge">virtual</span>}
          </li>
        ))}
        {pkg.domains.length === 0 && <li>No domain assigned.</li>}
      </ul>
      <form
        className="inline-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          assign.mutate();
        }}
      >
        <Field label={`Domain for ${pkg.name}`} error={assign.error instanceof ApiError ? assign.error.message : undefined}>
          {(p) => <input {...p} required value={domain} onChange={(e) => setDomain(e.target.value)} />}
        </Field>
        <label className="inline checkbox">
          <input type="checkbox" checked={virtual} onChange={(e) => setVirtual(e.target.checked)} />
          Virtual domain (registered elsewhere)
        </label>
        <button type="submit" disabled={assign.isPending}>
          Assign domain
        </button>
      </form>
    </div>
  );
}
