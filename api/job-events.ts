import type { BulkDeps } from '../shared/bulk/kind';
import { jobViewsById } from '../shared/bulk/views';
import { liveCredentials, sweepExpiredSessions } from '../shared/accounts/sessions';
import { JobStreams } from './sse';

/**
 * One hub per app: streams of the same job share one poll of its view (access is checked per
 * stream), and one check of every open stream's credential. The hub also sweeps expired console
 * sessions every SESSION_SWEEP_MS: every deployment runs an API process, and this is the part of
 * it that already watches sessions end.
 */
export function jobStreams(deps: BulkDeps): JobStreams {
  const now = () => deps.clock();
  const { config } = deps;
  const limits = {
    maxPerKey: config.SSE_MAX_STREAMS_PER_KEY,
    maxSeconds: config.SSE_MAX_STREAM_SECONDS,
    pollMs: config.SSE_POLL_MS,
    recheckMs: config.SSE_AUTH_RECHECK_MS,
  };
  const hub = new JobStreams(
    deps.redis,
    config.QUEUE_PREFIX!,
    limits,
    deps.log,
    (ids) => jobViewsById(deps, ids, now()),
    (creds) => liveCredentials(deps.db, creds, now()),
  );
  hub.every(config.SESSION_SWEEP_MS, 'console session sweep', async () => {
    const swept = await sweepExpiredSessions(deps.db, now());
    if (swept) deps.log.info({ event: 'sessions_swept', sessions: swept }, 'expired console sessions deleted');
  });
  return hub;
}
