import { expect } from 'chai';
import { authorize, makeReseller, submit, type TestReseller } from '../helpers/fixtures';
import { bearerHeaders, jobStreamsOf, type OpenStream, openStream, streamEvents as events } from '../helpers/streams';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/** Issue 7 point 3: event streams are capped per key and in lifetime, end for suspended jobs, and share one poll per job. */

describe('tenancy: bounded event streams', () => {
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;
  let jobId: string;
  const opened: OpenStream[] = [];
  const hub = () => jobStreamsOf(sys);
  const url = (id = jobId) => `${sys.url}/v1/jobs/${id}/events`;
  const open = async (who: TestReseller, headers?: Record<string, string>, id?: string) => {
    const s = await openStream(url(id), { ...bearerHeaders(who.key), ...headers });
    opened.push(s);
    return s;
  };

  before(async () => {
    // No worker: the job stays queued, so its streams stay open until a limit ends them.
    sys = await startSystem({ worker: false, config: { SSE_MAX_STREAMS_PER_KEY: 3, SSE_MAX_STREAM_SECONDS: 2, SSE_POLL_MS: 100 } });
    losing = await makeReseller(sys, 'losing');
    gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains: ['sse-1.example', 'sse-2.example'] });
    expect(res.status).to.equal(202);
    jobId = res.body.id;
  });
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
  });
  after(() => sys?.stop());

  it('a key holds at most SSE_MAX_STREAMS_PER_KEY streams (429 too_many_streams beyond), other keys are not affected, a closed stream frees its slot', async () => {
    await waitUntil('earlier streams to be released', () => hub().watching().streams === 0);
    const three = [await open(losing), await open(losing), await open(losing)];
    expect(three.map((s) => s.status)).to.deep.equal([200, 200, 200]);
    const fourth = await open(losing);
    expect(fourth.status).to.equal(429);
    expect(Number(fourth.headers['retry-after'])).to.be.at.least(1);
    expect(JSON.parse(await fourth.ended).error.code).to.equal('too_many_streams');
    // The gaining reseller watches the same job with its own key.
    expect((await open(gaining)).status).to.equal(200);
    // Every stream of the job shares one poll.
    expect(hub().watching()).to.deep.equal({ jobs: 1, streams: 4 });
    three[0].close();
    await waitUntil('the slot to be released', () => hub().watching().streams === 3);
    let again: OpenStream | undefined;
    await waitUntil('a new stream to be accepted', async () => {
      const s = await open(losing);
      if (s.status === 200) again = s;
      return s.status === 200;
    });
    expect(again!.status).to.equal(200);
  });

  it('a stream lasts at most SSE_MAX_STREAM_SECONDS, tells the client when to retry, and a resumed stream (Last-Event-ID) does not repeat what it saw', async () => {
    const t0 = Date.now();
    const first = await open(losing);
    const raw = await first.ended;
    expect(Date.now() - t0).to.be.within(1500, 6000);
    expect(raw).to.match(/^retry: \d+$/m);
    const seen = events(raw);
    expect(seen).to.have.length(1);
    expect(seen[0]).to.include({ event: 'progress' });
    expect(seen[0].data).to.include({ id: jobId, status: 'queued' });
    expect(seen[0].id).to.be.a('string');

    const resumed = await open(losing, { 'Last-Event-ID': seen[0].id! });
    const again = await resumed.ended;
    expect(again).to.match(/^retry: \d+$/m);
    expect(events(again), 'nothing new happened, so nothing is repeated').to.have.length(0);
  });

  it('the stream ends for a suspended job, and a stream opened on a suspended job ends at once', async () => {
    const live = await open(losing);
    await waitUntil('the first event', () => events(live.raw()).length === 1);
    const suspend = await sys.http().post(`/v1/jobs/${jobId}/suspend`).set('Authorization', `Bearer ${losing.key}`);
    expect(suspend.status).to.equal(202);
    const raw = await live.ended;
    const all = events(raw);
    expect(all[all.length - 1]).to.deep.include({ event: 'end' });
    expect(all[all.length - 1].data.status).to.equal('suspended');

    const late = await open(losing);
    const lateEvents = events(await late.ended);
    expect(lateEvents.map((e) => e.event)).to.deep.equal(['end']);
    expect((await sys.http().post(`/v1/jobs/${jobId}/resume`).set('Authorization', `Bearer ${losing.key}`)).status).to.equal(202);
  });

  it("another reseller's job is 404 before any stream opens, and uses no slot", async () => {
    const stranger = await makeReseller(sys, 'stranger');
    for (let i = 0; i < 5; i++) {
      const s = await open(stranger);
      expect(s.status).to.equal(404);
    }
  });
});
