import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { FINISHED, type Job } from './api';

/**
 * Follows a job's Server-Sent Events (/v1/jobs/:id/events, same-origin so the session cookie
 * goes along) while it runs. Returns the latest view; at `end` it closes the stream (else
 * EventSource would reconnect) and refreshes the lists that show the job.
 */
export function useJobStream(id: string, enabled: boolean): Job | undefined {
  const qc = useQueryClient();
  const [live, setLive] = useState<Job>();
  useEffect(() => {
    if (!enabled) return;
    const es = new EventSource(`/v1/jobs/${id}/events`);
    const onData = (e: MessageEvent) => {
      const job = JSON.parse(e.data) as Job;
      setLive(job);
      qc.setQueryData(['job', id], job);
      if (FINISHED.includes(job.status)) {
        es.close();
        qc.invalidateQueries({ queryKey: ['jobs'] });
        qc.invalidateQueries({ queryKey: ['items', id] });
      }
    };
    es.addEventListener('progress', onData);
    es.addEventListener('end', onData);
    return () => es.close();
  }, [id, enabled, qc]);
  return live;
}
