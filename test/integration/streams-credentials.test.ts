import { expect } from 'chai';
import { hashSecret } from '../../shared/platform/secrets';
import { authorize, makeReseller, submit, type TestReseller } from '../helpers/fixtures';
import { bearerHeaders, jobStreamsOf, type OpenStream, openStream, streamEvents as events } from '../helpers/streams';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * Issue 17 findings 7 and 8: the stream cap counts every stream of a key, whatever console session
 * opened it; a key holds at most SESSIONS_PER_KEY sessions; expired sessions are swept without
 * anyone signing in; an open stream ends within a few seconds of sign-out, a newer session pushing
 * its session out, expiry or the key's revocation, with a final `end` event whose job is still open
 * (how a client tells it from the job's own end), and a reconnect answers 401.
 */

const CAP = 3;
const SESSIONS = 2;
const RECHECK_MS = 300;
/** What "within a few seconds" allows past one recheck interval: a poll, the write, the socket. */
const MARGIN_MS = 2_000;

interface Credential {
  /** Headers that sign a request in: a bearer key, or a session cookie with its binding. */
  headers: Record<string, string>;
}

describe('streams: every stream of a key counts, and streams end with their credential', function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;
  let jobId: string;
  const opened: OpenStream[] = [];
  const hub = () => jobStreamsOf(sys);
  const bearer = (who: TestReseller): Credential => ({ headers: bearerHeaders(who.key) });

  async function signIn(who: TestReseller): Promise<Credential & { token: string }> {
    const res = await sys.http().post('/v1/sessions').send({ api_key: who.key });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const line = ((res.headers['set-cookie'] as unknown as string[]) ?? []).find((c) => /^(__Host-)?dp_session=/.test(c));
    expect(line, 'a session cookie').to.be.a('string');
    const pair = line!.split(';')[0];
    const headers: Record<string, string> = { Cookie: pair };
    // The console sends the session's binding with every call (where the deployment answers one).
    const binding = res.headers['session-binding'];
    if (typeof binding === 'string') headers['Session-Binding'] = binding;
    return { headers, token: decodeURIComponent(pair.slice(pair.indexOf('=') + 1)) };
  }

  const open = async (c: Credential, id = jobId) => {
    const s = await openStream(`${sys.url}/v1/jobs/${id}/events`, c.headers);
    opened.push(s);
    return s;
  };
  const firstEvent = (s: OpenStream) => waitUntil('the first event', () => events(s.raw()).length > 0, 5_000);

  /** The stream's whole body once it ends; fails (instead of hanging) when it does not end soon. */
  function endedWithin(s: OpenStream, ms = 5_000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`the stream was still open after ${ms} ms`)), ms);
    });
    return Promise.race([s.ended, late]).finally(() => clearTimeout(timer));
  }

  /** Opens a stream, then measures how long after `act` it ends; returns the time and its events. */
  async function endsAfter(c: Credential, act: () => Promise<unknown>) {
    const s = await open(c);
    expect(s.status).to.equal(200);
    await firstEvent(s);
    const t0 = Date.now();
    await act();
    const raw = await endedWithin(s);
    return { ms: Date.now() - t0, events: events(raw) };
  }

  before(async () => {
    // No worker: the job stays queued, so its streams stay open until something ends them.
    sys = await startSystem({
      worker: false,
      config: {
        SSE_MAX_STREAMS_PER_KEY: CAP,
        SSE_MAX_STREAM_SECONDS: 60,
        SSE_POLL_MS: 100,
        SSE_AUTH_RECHECK_MS: RECHECK_MS,
        SESSIONS_PER_KEY: SESSIONS,
        SESSION_SWEEP_MS: 200,
      },
    });
    losing = await makeReseller(sys, 'sc-losing');
    gaining = await makeReseller(sys, 'sc-gaining');
    await authorize(sys, gaining, losing);
    const res = await submit(sys, losing, { gaining_reseller: 'sc-gaining', domains: ['sc-1.example'] });
    expect(res.status).to.equal(202);
    jobId = res.body.id;
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) s.close();
    await waitUntil('every stream to be released', () => hub().watching().streams === 0, 5_000);
  });
  after(async () => {
    hub()?.close();
    await sys?.stop();
  });

  it('two console sessions of one key plus the key itself hold at most SSE_MAX_STREAMS_PER_KEY streams together (429 beyond)', async () => {
    const a = await signIn(losing);
    const b = await signIn(losing);
    const held = [await open(a), await open(b), await open(bearer(losing))];
    expect(held.map((s) => s.status)).to.deep.equal([200, 200, 200]);
    for (const c of [a, b, bearer(losing)]) {
      const refused = await open(c);
      expect(refused.status).to.equal(429);
      expect(JSON.parse(await refused.ended).error.code).to.equal('too_many_streams');
    }
    // Another key is not affected.
    expect((await open(bearer(gaining))).status).to.equal(200);
  });

  it('signing in past SESSIONS_PER_KEY ends the oldest session of that key: its cookie answers 401 and its stream ends', async () => {
    const oldest = await signIn(losing);
    const stream = await open(oldest);
    expect(stream.status).to.equal(200);
    await firstEvent(stream);
    const others = [];
    for (let i = 0; i < SESSIONS; i++) others.push(await signIn(losing));
    const live = await sys
      .db('console_sessions')
      .where({ api_key_id: await keyId(losing) })
      .count({ n: '*' })
      .first();
    expect(Number(live!.n)).to.equal(SESSIONS);
    const me = await sys.http().get('/v1/me').set(oldest.headers);
    expect(me.status).to.equal(401);
    expect(me.body.error.code).to.equal('unauthorized');
    for (const s of others) expect((await sys.http().get('/v1/me').set(s.headers)).status).to.equal(200);
    expectCredentialEnd(events(await endedWithin(stream)));
    // Another reseller's sessions are not touched.
    const theirs = await signIn(gaining);
    expect((await sys.http().get('/v1/me').set(theirs.headers)).status).to.equal(200);
  });

  it('an expired session row is swept without anyone signing in', async () => {
    const lonely = await makeReseller(sys, 'sc-lonely');
    const row = (name: string, expiresAt: Date) => ({
      token_hash: hashSecret(`dps_${name}-${Date.now()}`),
      reseller_id: lonely.id,
      api_key_id: 0,
      expires_at: expiresAt,
    });
    const id = await keyId(lonely);
    const expired = { ...row('expired', new Date(Date.now() - 1000)), api_key_id: id };
    const live = { ...row('live', new Date(Date.now() + 60_000)), api_key_id: id };
    await sys.db('console_sessions').insert([expired, live]);
    await waitUntil(
      'the expired row to be swept',
      async () => !(await sys.db('console_sessions').where({ token_hash: expired.token_hash }).first()),
      5_000,
    );
    expect(await sys.db('console_sessions').where({ token_hash: live.token_hash }).first(), 'the live session stays').to.be.an('object');
  });

  it(`sign-out ends that session's open stream within SSE_AUTH_RECHECK_MS (${RECHECK_MS} ms) plus a margin; other streams go on`, async () => {
    const mine = await signIn(gaining);
    const other = await signIn(gaining);
    const bystander = await open(other);
    const { ms, events: seen } = await endsAfter(mine, async () => {
      const out = await sys
        .http()
        .delete('/v1/sessions/current')
        .set({ ...mine.headers, Origin: sys.url });
      expect(out.status).to.equal(204);
    });
    expect(ms, `ended ${ms} ms after sign-out`).to.be.below(RECHECK_MS + MARGIN_MS);
    expectCredentialEnd(seen);
    // A reconnect with the ended cookie is refused.
    expect((await open(mine)).status).to.equal(401);
    expect(events(bystander.raw()).map((e) => e.event)).to.not.include('end');
    expect(hub().watching().streams).to.equal(1);
  });

  it('an expired session ends its open stream', async () => {
    const s = await signIn(gaining);
    const { ms, events: seen } = await endsAfter(s, () =>
      sys
        .db('console_sessions')
        .where({ token_hash: hashSecret(s.token) })
        .update({ expires_at: new Date(Date.now() - 1000) }),
    );
    expect(ms).to.be.below(RECHECK_MS + MARGIN_MS);
    expectCredentialEnd(seen);
    expect((await open(s)).status).to.equal(401);
  });

  it("revoking a key ends the streams of the key and of every session opened with it (one credential query per re-check for all streams); other keys' streams go on", async () => {
    const victim = await makeReseller(sys, 'sc-revoked');
    await authorize(sys, victim, losing);
    const sub = await submit(sys, losing, { gaining_reseller: 'sc-revoked', domains: ['sc-2.example'] });
    expect(sub.status).to.equal(202);
    const s1 = await signIn(victim);
    const streams = [await open(s1, sub.body.id), await open(bearer(victim), sub.body.id)];
    const bystander = await open(bearer(losing), sub.body.id);
    for (const s of [...streams, bystander]) {
      expect(s.status).to.equal(200);
      await firstEvent(s);
    }
    // One credential query per re-check for every open stream, not one per stream.
    let checks = 0;
    const count = (q: { sql: string }) => {
      if (q.sql.includes("'s:' ||")) checks++;
    };
    sys.db.on('query', count);
    const from = Date.now();
    await waitUntil('a few re-checks', () => Date.now() - from > 4 * RECHECK_MS, 5_000);
    sys.db.off('query', count);
    const ticks = Math.ceil((Date.now() - from) / RECHECK_MS);
    expect(checks, `${checks} credential queries in ${ticks} re-check intervals, 3 streams open`).to.be.within(1, ticks);

    const t0 = Date.now();
    await sys
      .db('api_keys')
      .where({ id: await keyId(victim) })
      .update({ revoked_at: new Date() });
    const ended = await Promise.all(streams.map((s) => endedWithin(s)));
    const ms = Date.now() - t0;
    expect(ms).to.be.below(RECHECK_MS + MARGIN_MS);
    for (const raw of ended) expectCredentialEnd(events(raw));
    for (const c of [s1, bearer(victim)]) expect((await open(c, sub.body.id)).status).to.equal(401);
    expect(events(bystander.raw()).map((e) => e.event)).to.not.include('end');
    expect(hub().watching().streams).to.equal(1);
  });

  /** The last event is `end` with the job still open: the stream ended for its caller, not the job. */
  function expectCredentialEnd(seen: ReturnType<typeof events>) {
    const last = seen[seen.length - 1];
    expect(last?.event).to.equal('end');
    expect(last.data.status).to.equal('queued');
  }

  async function keyId(who: TestReseller): Promise<number> {
    const row = await sys
      .db('api_keys')
      .where({ key_hash: hashSecret(who.key) })
      .first('id');
    return Number(row.id);
  }
});
