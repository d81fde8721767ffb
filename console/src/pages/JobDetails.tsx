import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { FINISHED, type Item, type Job, type Me, type Page, api, formatDate, formatEta } from '../api';
import { useJobStream } from '../live';
import { Link } from '../router';
import { ConfirmDialog, ErrorBox, Field, JobProgress, StatusBadge } from '../ui';
import { describeJob } from './Queue';

const ITEM_STATUSES = ['pending', 'running', 'pushed', 'released', 'skipped', 'failed', 'cancelled'];

export function JobDetailsPage({ id, me }: { id: string; me: Me }) {
  const qc = useQueryClient();
  const [status, setStatus] = useState('');
  const [confirmCancel, setConfirmCancel] = useState(false);
  const fetched = useQuery({ queryKey: ['job', id], queryFn: () => api<Job>('GET', `/v1/jobs/${id}`) });
  const active = !!fetched.data && !FINISHED.includes(fetched.data.status);
  useJobStream(id, active);
  const job = fetched.data;
  const items = useInfiniteQuery({
    queryKey: ['items', id, status],
    queryFn: ({ pageParam }) =>
      api<Page<Item>>('GET', `/v1/jobs/${id}/items?limit=50${status ? `&status=${status}` : ''}${pageParam ? `&cursor=${pageParam}` : ''}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    refetchInterval: active ? 3_000 : false,
  });
  const control = useMutation({
    mutationFn: (action: 'cancel' | 'suspend' | 'resume') => api<{ status: string }>('POST', `/v1/jobs/${id}/${action}`),
    onSuccess: () => {
      setConfirmCancel(false);
      qc.invalidateQueries({ queryKey: ['job', id] });
      qc.invalidateQueries({ queryKey: ['jobs'] });
    },
  });

  if (fetched.error) return <ErrorBox error={fetched.error} />;
  if (!job) return <p className="loading">Loading…</p>;
  const mine = job.losing_reseller === me.username;
  const name = describeJob(job, me);
  const rows = items.data?.pages.flatMap((p) => p.items) ?? [];
  const csvHref = `/v1/jobs/${id}/items?format=csv${status ? `&status=${status}` : ''}`;
  const statuses = Object.entries(job.counts).filter(([k]) => job.kind === 'release' || k !== 'released');

  return (
    <section aria-labelledby="job-title">
      <p>
        <Link to="/queue">← Bulk actions queue</Link>
      </p>
      <h1 id="job-title">
        {name} <StatusBadge status={job.status} />
      </h1>
      <dl className="facts">
        <div>
          <dt>Job</dt>
          <dd>
            <code>{job.id}</code>
          </dd>
        </div>
        <div>
          <dt>Domains</dt>
          <dd>{job.total}</dd>
        </div>
        <div>
          <dt>Submitted</dt>
          <dd>{formatDate(job.created_at)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatDate(job.finished_at)}</dd>
        </div>
        {job.status === 'running' && (
          <div>
            <dt>ETA</dt>
            <dd>{formatEta(job.eta_seconds)}</dd>
          </div>
        )}
      </dl>
      <JobProgress job={job} label={`Progress of ${name}`} />

      <h2>Counts by status</h2>
      <ul className="counts-list">
        {statuses.map(([k, n]) => (
          <li key={k}>
            <StatusBadge status={k} /> <strong>{n}</strong>
          </li>
        ))}
      </ul>

      {mine && (
        <div className="actions">
          {(job.status === 'queued' || job.status === 'running') && (
            <button type="button" className="secondary" onClick={() => control.mutate('suspend')} disabled={control.isPending}>
              Suspend
            </button>
          )}
          {job.status === 'suspended' && (
            <button type="button" className="secondary" onClick={() => control.mutate('resume')} disabled={control.isPending}>
              Resume
            </button>
          )}
          {!FINISHED.includes(job.status) && job.status !== 'cancelling' && (
            <button type="button" className="danger" onClick={() => setConfirmCancel(true)}>
              Cancel
            </button>
          )}
        </div>
      )}
      <ErrorBox error={control.error} />
      <ConfirmDialog
        open={confirmCancel}
        title="Cancel this job?"
        confirmLabel="Yes, cancel the job"
        cancelLabel="Keep it running"
        busy={control.isPending}
        onConfirm={() => control.mutate('cancel')}
        onClose={() => setConfirmCancel(false)}
      >
        <p>
          No further domain will start. Domains already moved stay moved (a push cannot be undone); every domain not started ends cancelled.
        </p>
      </ConfirmDialog>

      <h2>Items</h2>
      <div className="filters">
        <Field label="Show items with status">
          {(p) => (
            <select {...p} value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">All</option>
              {ITEM_STATUSES.filter((s) => (job.kind === 'release' ? s !== 'pushed' : s !== 'released')).map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <a className="button secondary" href={csvHref} download>
          Download CSV
        </a>
      </div>
      <ErrorBox error={items.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Items of this job</caption>
          <thead>
            <tr>
              <th scope="col">Domain</th>
              <th scope="col">Status</th>
              <th scope="col">Reason</th>
              <th scope="col" className="wide-only">
                Message
              </th>
              <th scope="col" className="wide-only">
                Was locked
              </th>
              <th scope="col" className="wide-only">
                Finished
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((i) => (
              <tr key={i.domain}>
                <td>{i.domain}</td>
                <td>
                  <StatusBadge status={i.status} />
                </td>
                <td>{i.reason ?? ''}</td>
                <td className="wide-only">{i.message ?? ''}</td>
                <td className="wide-only">{i.was_locked ? (i.relocked ? 'yes, relocked' : 'yes') : 'no'}</td>
                <td className="wide-only">{formatDate(i.finished_at)}</td>
              </tr>
            ))}
            {rows.length === 0 && !items.isPending && (
              <tr>
                <td colSpan={6}>No item{status ? ` with status ${status}` : ''}.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {items.hasNextPage && (
        <button type="button" className="secondary" onClick={() => items.fetchNextPage()} disabled={items.isFetchingNextPage}>
          Show more items
        </button>
      )}
    </section>
  );
}
