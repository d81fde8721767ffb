import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { FINISHED, type Job, withSessionBinding } from './api';

/**
 * How often a page re-reads a suspended job (one GET, no stream: the server ends a suspended job's
 * stream, so a stream would only reconnect and take one of the key's stream slots each time).
 */
export const SUSPENDED_POLL_MS = 20_000;

/** Whether a job is worth a stream: open and not suspended (nothing moves until it is resumed). */
export const streamable = (job: Job | undefined): boolean => !!job && !FINISHED.includes(job.status) && job.status !== 'suspended';

/**
 * Follows a job's Server-Sent Events (/v1/jobs/:id/events, same-origin so the session cookie
 * goes along) while `enabled`. Returns the latest view. `end` is the server's last word: the
 * stream is closed (else EventSource would reconnect every 3 s) and
 * - the job finished: the lists that show it are refreshed;
 * - the job was suspended: the caller stops streaming it (see `streamable`) and polls it slowly;
 *   a resume (here, or seen by that poll) streams it again;
 * - the job is still open: the stream ended for us, not the job (signed out, the session ended,
 *   the key was revoked), so the console asks who is signed in, and a 401 shows the sign-in form.
 * A reconnect the server refuses (401, 429) also closes the EventSource for good: same question.
 */
export function useJobStream(id: string, enabled: boolean): Job | undefined {
  const qc = useQueryClient();
  const [live, setLive] = useState<Job>();
  useEffect(() => {
    if (!enabled) return;
    const es = new EventSource(withSessionBinding(`/v1/jobs/${id}/events`));
    const show = (e: MessageEvent) => {
      const job = JSON.parse(e.data) as Job;
      setLive(job);
      // Only a page that shows this job's query gets it: a queue row's last event must not become the
      // job page's "fresh" view after the row stopped streaming (a finished job read as running).
      if (
        qc
          .getQueryCache()
          .find({ queryKey: ['job', id], exact: true })
          ?.getObserversCount()
      )
        qc.setQueryData(['job', id], job);
      return job;
    };
    const onEnd = (e: MessageEvent) => {
      es.close();
      const job = show(e);
      if (FINISHED.includes(job.status)) {
        qc.invalidateQueries({ queryKey: ['jobs'] });
        qc.invalidateQueries({ queryKey: ['items', id] });
      } else if (job.status === 'suspended') {
        qc.invalidateQueries({ queryKey: ['jobs'] });
      } else {
        qc.invalidateQueries({ queryKey: ['me'] });
      }
    };
    es.addEventListener('progress', show);
    es.addEventListener('end', onEnd);
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) qc.invalidateQueries({ queryKey: ['me'] });
    };
    return () => es.close();
  }, [id, enabled, qc]);
  return live;
}
