import { useInfiniteQuery } from '@tanstack/react-query';
import { FINISHED, type Job, type Me, type Page, api, formatDate } from '../api';
import { useJobStream } from '../live';
import { Link } from '../router';
import { ErrorBox, JobProgress, StatusBadge } from '../ui';

/** Live streams per page are capped: each holds a connection, and browsers allow six per host. */
const MAX_STREAMS = 3;

export function describeJob(job: Job, me: Me): string {
  if (job.kind === 'release') return 'Customer release';
  return job.losing_reseller === me.username ? `Push to ${job.gaining_reseller}` : `Received from ${job.losing_reseller}`;
}

export function QueuePage({ me }: { me: Me }) {
  const submitted = new URLSearchParams(window.location.search).get('submitted');
  const jobs = useInfiniteQuery({
    queryKey: ['jobs'],
    queryFn: ({ pageParam }) => api<Page<Job>>('GET', `/v1/jobs?limit=25${pageParam ? `&cursor=${pageParam}` : ''}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // New jobs (submitted elsewhere, or received) appear without a reload.
    refetchInterval: 5_000,
  });
  const rows = jobs.data?.pages.flatMap((p) => p.items) ?? [];
  const activeIds = rows
    .filter((j) => !FINISHED.includes(j.status))
    .slice(0, MAX_STREAMS)
    .map((j) => j.id);
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">Bulk actions queue</h1>
      <p className="lead">Jobs you submitted and jobs you received, newest first.</p>
      {submitted && (
        <p className="notice" role="status">
          Your push was submitted: it is job <code>{submitted.slice(0, 8)}</code> at the top of the queue.
        </p>
      )}
      <ErrorBox error={jobs.error} />
      <div className="table-wrap">
        <table className="jobs">
          <caption className="visually-hidden">Bulk jobs</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col" className="wide-only">
                Domains
              </th>
              <th scope="col" className="wide-only">
                Submitted
              </th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((j) => (
              <JobRow key={j.id} job={j} me={me} stream={activeIds.includes(j.id)} />
            ))}
            {rows.length === 0 && !jobs.isPending && (
              <tr>
                <td colSpan={6}>No bulk jobs yet. Start one from Domains → Bulk actions.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {jobs.hasNextPage && (
        <button type="button" className="secondary" onClick={() => jobs.fetchNextPage()} disabled={jobs.isFetchingNextPage}>
          Show older jobs
        </button>
      )}
    </section>
  );
}

function JobRow({ job: listed, me, stream }: { job: Job; me: Me; stream: boolean }) {
  const live = useJobStream(listed.id, stream);
  const job = live && live.status !== listed.status && FINISHED.includes(listed.status) ? listed : (live ?? listed);
  const name = describeJob(job, me);
  return (
    <tr data-job-id={job.id}>
      <td>
        <span className="job-name">{name}</span>
        <span className="sub">{job.id.slice(0, 8)}</span>
      </td>
      <td>
        <StatusBadge status={job.status} />
      </td>
      <td className="progress-cell">
        <JobProgress job={job} label={`Progress of ${name} (${job.id.slice(0, 8)})`} />
        <span className="sub">{outcomeSummary(job)}</span>
      </td>
      <td className="wide-only">{job.total}</td>
      <td className="wide-only">{formatDate(job.created_at)}</td>
      <td>
        <Link to={`/queue/${job.id}`} aria-label={`View details of ${name} (${job.id.slice(0, 8)})`}>
          View details
        </Link>
      </td>
    </tr>
  );
}

/** "1980 pushed · 20 failed": the finished outcomes that are not zero. */
function outcomeSummary(job: Job): string {
  return ['pushed', 'released', 'skipped', 'failed', 'cancelled']
    .filter((k) => (job.counts[k] ?? 0) > 0)
    .map((k) => `${job.counts[k]} ${k}`)
    .join(' · ');
}
