import type { Request, RequestHandler, Response } from 'express';
import type { BulkDeps } from '../shared/bulk/kind';
import { FINISHED_JOB, type JobStatus } from '../shared/bulk/model';
import { getJob, jobViewsById } from '../shared/bulk/views';
import { me } from './auth';
import { JobStreams } from './sse';

/** `GET …/:id/events`: the job's view as server-sent events (see JobStreams for the limits). */
export function jobEventsRoute(deps: BulkDeps, streams: JobStreams, kind: string | undefined, now: () => Date): RequestHandler {
  const id = (req: Request) => String(req.params.id);
  return (req: Request, res: Response) =>
    streams.stream(
      req,
      res,
      id(req),
      res.locals.apiKeyId,
      () => getJob(deps, me(res), id(req), kind, now()),
      // A suspended job ends its stream too: nothing moves until someone resumes it.
      (s) => FINISHED_JOB.includes(s as JobStatus) || s === 'suspended',
    );
}

/** One hub per app: streams of the same job share one poll of its view (access is checked per stream). */
export function jobStreams(deps: BulkDeps): JobStreams {
  const now = () => deps.clock();
  const { config } = deps;
  const limits = { maxPerKey: config.SSE_MAX_STREAMS_PER_KEY, maxSeconds: config.SSE_MAX_STREAM_SECONDS, pollMs: config.SSE_POLL_MS };
  return new JobStreams(deps.redis, config.QUEUE_PREFIX!, limits, deps.log, (ids) => jobViewsById(deps, ids, now()));
}
