import type { Request, RequestHandler, Response } from 'express';
import { cancelJob, resumeJob, suspendJob } from '../../shared/bulk/control';
import { FINISHED_JOB, type JobStatus } from '../../shared/bulk/model';
import { rescheduleInput, rescheduleJob } from '../../shared/bulk/schedule';
import { getJob, itemsCsvFor, itemsQuery, listItems, listJobs } from '../../shared/bulk/views';
import { hashSecret } from '../../shared/platform/secrets';
import { listQuery, parseInput } from '../../shared/platform/validation';
import { me } from '../auth';
import { json } from '../openapi/operation';
import * as R from '../openapi/responses';
import { type RouteContext, type Routes, send, fieldOf } from './route';

const id = (req: Request) => String(req.params.id);

/** How the reference names the jobs under a base path. */
interface JobTexts {
  /** `List ${what} you submitted or received`. */
  what: string;
  /** `One ${one}: status, counts…`. */
  one: string;
  tag: string;
}

/**
 * The views every bulk job has, under `base`: `/v1/jobs` (every kind) and `/v1/bulk-pushes`
 * (`kind` push only: another kind's job there is not found).
 */
export function jobRoutes(base: string, kind: string | undefined, { what, one, tag }: JobTexts): Routes {
  const at = `${base}/:id`;
  return {
    [`GET ${base}`]: {
      handle: ({ deps, now }) => send(async (req, res) => [200, await listJobs(deps, me(res), req.query, kind, now())]),
      summary: `List ${what} you submitted or received, newest first`,
      tag,
      auth: 'reseller',
      query: listQuery,
      replies: { 200: json('a page of jobs', R.page(R.Job)) },
    },
    [`GET ${at}`]: {
      handle: ({ deps, now }) => send(async (req, res) => [200, await getJob(deps, me(res), id(req), kind, now())]),
      summary: `One ${one}: status, counts, rate, eta_seconds, options, timestamps`,
      tag,
      auth: 'reseller',
      replies: { 200: json('the job', R.Job) },
    },
    [`GET ${at}/items`]: {
      handle:
        ({ deps }) =>
        async (req, res) => {
          // ?format=csv lets a plain download link (which cannot set Accept) get the CSV.
          if (req.query.format === 'csv' || req.accepts(['application/json', 'text/csv']) === 'text/csv') {
            const csv = await itemsCsvFor(deps, me(res), id(req), req.query, kind);
            res.status(200).type('text/csv').attachment(csv.filename);
            for await (const part of csv.rows) if (!res.write(part)) await new Promise((ok) => res.once('drain', ok));
            return res.end();
          }
          res.json(await listItems(deps, me(res), id(req), req.query, kind));
        },
      summary: 'Per-item results, cursor-paginated; `Accept: text/csv` streams every item as CSV',
      tag,
      auth: 'reseller',
      query: itemsQuery,
      replies: { 200: { description: 'a page of items (JSON) or every item (CSV)', schema: R.page(R.Item), media: ['text/csv'] } },
    },
    [`POST ${at}/cancel`]: {
      handle: ({ deps }) => send(async (req, res) => [202, await cancelJob(deps, me(res), id(req), { kind })]),
      audit: { action: 'bulk_job.cancel', target: 'bulk_job', details: (_q, b) => ({ status: fieldOf(b, 'status') }) },
      summary: 'Cancel: no item starts after this answer; items not started end cancelled',
      tag,
      auth: 'reseller',
      replies: { 202: json('`cancelled`, or `cancelling` until items in hand finish', R.ControlAnswer) },
      errors: { 409: ['job_finished'] },
    },
    [`POST ${at}/suspend`]: {
      handle: ({ deps }) => send(async (req, res) => [202, await suspendJob(deps, me(res), id(req), kind)]),
      audit: { action: 'bulk_job.suspend', target: 'bulk_job', details: (_q, b) => ({ status: fieldOf(b, 'status') }) },
      summary: 'Suspend: no item starts until resumed; items in hand finish',
      tag,
      auth: 'reseller',
      replies: { 202: json('suspended', R.ControlAnswer) },
      errors: { 409: ['invalid_state'] },
    },
    [`POST ${at}/resume`]: {
      handle: ({ deps }) => send(async (req, res) => [202, await resumeJob(deps, me(res), id(req), kind)]),
      audit: { action: 'bulk_job.resume', target: 'bulk_job', details: (_q, b) => ({ status: fieldOf(b, 'status') }) },
      summary: 'Resume a suspended job where it stopped',
      tag,
      auth: 'reseller',
      replies: { 202: json('running or queued again', R.ControlAnswer) },
      errors: { 409: ['invalid_state'], 503: ['queue_unavailable'] },
    },
    [`POST ${at}/reschedule`]: {
      handle: ({ deps, now }) =>
        send(async (req, res) => {
          const job = await rescheduleJob(deps, me(res), id(req), parseInput(rescheduleInput, req.body ?? {}), kind);
          return [200, await getJob(deps, me(res), job.id, kind, now())];
        }),
      audit: {
        action: 'bulk_job.reschedule',
        target: 'bulk_job',
        details: (req, b) => ({ requested: req.body, start_at: fieldOf(b, 'start_at'), status: fieldOf(b, 'status') }),
      },
      summary: 'Reschedule a job that has not started: `{"start_at": ISO | "next_cycle" | "now"}` or `{"start_after_seconds": n}`',
      tag,
      auth: 'reseller',
      body: rescheduleInput,
      bodyRequired: true,
      replies: { 200: json('the job with its new start_at', R.Job) },
      errors: { 409: ['invalid_state'] },
    },
    [`GET ${at}/events`]: {
      handle: (ctx) => jobEvents(ctx, kind),
      summary: 'Server-Sent Events: `progress` (the job) when it changes, then `end` with the final state or on suspend',
      description:
        'At most SSE_MAX_STREAMS_PER_KEY streams per API key, counting every console session of the key (429 `too_many_streams`); a stream lasts SSE_MAX_STREAM_SECONDS, starts with `retry:`, and each event has an `id:` a reconnect sends back as `Last-Event-ID`. The credential is checked again every SSE_AUTH_RECHECK_MS: after sign-out, session expiry or key revocation the stream sends a last `end` with the job still open and closes (a reconnect answers 401).',
      tag,
      auth: 'reseller',
      replies: { 200: { description: 'text/event-stream; each `data:` is a Job', media: ['text/event-stream'] } },
      errors: { 429: ['too_many_streams'] },
    },
  };
}

/** `GET …/:id/events`: the job's view as server-sent events, on the app's hub (see JobStreams for the limits). */
function jobEvents({ deps, streams, now }: RouteContext, kind: string | undefined): RequestHandler {
  return (req: Request, res: Response) =>
    streams.stream(
      req,
      res,
      id(req),
      // Every stream of a key counts against its cap, whatever session opened it; the session's
      // hash (never the token) is what the credential re-check looks up.
      {
        apiKeyId: String(res.locals.apiKeyId),
        sessionHash: res.locals.sessionToken ? hashSecret(String(res.locals.sessionToken)) : undefined,
      },
      () => getJob(deps, me(res), id(req), kind, now()),
      // A suspended job ends its stream too: nothing moves until someone resumes it.
      (s) => FINISHED_JOB.includes(s as JobStatus) || s === 'suspended',
    );
}

/** The same views for every kind of bulk job (push and release). */
export const jobs: Routes = jobRoutes('/v1/jobs', undefined, {
  what: 'bulk jobs of every kind',
  one: 'bulk job of any kind',
  tag: 'Bulk jobs',
});
