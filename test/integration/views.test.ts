import http from 'node:http';
import { expect } from 'chai';
import { parseCsv } from '../helpers/csv';
import type { ParsedMail } from 'mailparser';
import type { Response } from 'supertest';
import {
  allItems,
  authorize,
  bodyOf,
  importDomains,
  makeReseller,
  submit,
  waitForJob,
  type DomainView,
  type ItemView,
  type JobView,
  type JsonObject,
  type Page,
  type TestReseller,
} from '../helpers/fixtures';
import { waitUntil } from '../helpers/wait';
import { ScriptedRegistry } from '../helpers/registry';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

const METRICS_TOKEN = 'metrics-token-0123456789';

const CSV_HEADER = 'domain,status,reason,message,was_locked,relocked,finished_at';

/** CSV rows as the items API would show them, so the two can be compared field by field. */
function csvItems(text: string) {
  const [header, ...rows] = parseCsv(text);
  expect(header.join(',')).to.equal(CSV_HEADER);
  return rows.map(([domain, status, reason, message, wasLocked, relocked, finishedAt]) => ({
    domain,
    status,
    reason: reason === '' ? null : reason,
    message: message === '' ? null : message,
    was_locked: wasLocked === 'true',
    relocked: relocked === 'true',
    finished_at: finishedAt === '' ? null : finishedAt,
  }));
}

interface SseEvent {
  event: string;
  data: JobView;
}

/** Reads a whole Server-Sent Events stream (it ends when the job does) and splits it into events. */
function readEvents(url: string, key: string): Promise<{ status: number; contentType: string; raw: string; events: SseEvent[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' } }, (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (raw += d));
      res.on('end', () => {
        const events = raw
          .split('\n\n')
          .filter((block) => block.trim() !== '')
          .map((block) => {
            const lines = block.split('\n');
            const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
            const data = lines
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n');
            return { event, data: data ? JSON.parse(data) : null };
          });
        resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), raw, events });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('SSE stream did not end')));
  });
}

/** The item fields the CSV carries (the items API may show more). */
const csvColumns = (i: ItemView) => ({
  domain: i.domain,
  status: i.status,
  reason: i.reason,
  message: i.message,
  was_locked: i.was_locked,
  relocked: i.relocked,
  finished_at: i.finished_at,
});

const sumCounts = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('job views, push settings, domain list, operations endpoints and result emails', () => {
  let sys: TestSystem;
  let registry: ScriptedRegistry;
  let losing: TestReseller;
  let gaining: TestReseller;
  let third: TestReseller;

  before(async () => {
    sys = await startSystem({ registry: (db) => (registry = new ScriptedRegistry(db)), config: { METRICS_TOKEN } });
    losing = await makeReseller(sys, 'losing');
    gaining = await makeReseller(sys, 'gaining');
    third = await makeReseller(sys, 'third');
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  const as = (who: TestReseller | string) => `Bearer ${typeof who === 'string' ? who : who.key}`;

  async function pushAndWait(body: Record<string, unknown>, who = losing) {
    const res = await submit(sys, who, { gaining_reseller: 'gaining', ...body });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, who, res.body.id);
    return { id: res.body.id as string, job, submitted: res.body };
  }

  describe('job list and job view', () => {
    let lister: TestReseller;
    const ids: string[] = [];

    before(async () => {
      lister = await makeReseller(sys, 'lister');
      await authorize(sys, gaining, lister);
      await importDomains(
        sys,
        ['ls-1.example', 'ls-2.example', 'ls-3.example'].map((name) => ({ name, reseller: 'lister' })),
      );
      for (const n of ['ls-1.example', 'ls-2.example', 'ls-3.example']) ids.push((await pushAndWait({ domains: [n] }, lister)).id);
    });

    it('lists the caller’s jobs newest first, and limit=1 with next_cursor walks every job exactly once', async () => {
      const all = await sys.http().get('/v1/bulk-pushes').set('Authorization', as(lister));
      expect(all.status).to.equal(200);
      expect(bodyOf<Page<JobView>>(all).items.map((j) => j.id)).to.deep.equal([...ids].reverse());
      expect(all.body.next_cursor).to.equal(null);

      const walked: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: Response = await sys
          .http()
          .get('/v1/bulk-pushes')
          .query({ limit: 1, ...(cursor ? { cursor } : {}) })
          .set('Authorization', as(lister));
        expect(res.status).to.equal(200);
        const page: Page<JobView> = bodyOf(res);
        expect(page.items).to.have.length.at.most(1);
        walked.push(...page.items.map((j) => j.id));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(walked).to.deep.equal([...ids].reverse());
    });

    it('the gaining reseller sees the received job in its list and can open it; a third reseller gets 404', async () => {
      const list = await sys.http().get('/v1/bulk-pushes').query({ limit: 1000 }).set('Authorization', as(gaining));
      expect(list.status).to.equal(200);
      const listed = bodyOf<Page<JobView>>(list).items.map((j) => j.id);
      for (const id of ids) expect(listed).to.include(id);

      const view = await sys.http().get(`/v1/bulk-pushes/${ids[0]}`).set('Authorization', as(gaining));
      expect(view.status).to.equal(200);
      expect(view.body).to.include({ id: ids[0], losing_reseller: 'lister', gaining_reseller: 'gaining', status: 'completed' });
      expect((await sys.http().get(`/v1/bulk-pushes/${ids[0]}/items`).set('Authorization', as(gaining))).status).to.equal(200);

      for (const path of [
        `/v1/bulk-pushes/${ids[0]}`,
        `/v1/jobs/${ids[0]}`,
        `/v1/bulk-pushes/${ids[0]}/items`,
        `/v1/jobs/${ids[0]}/events`,
      ]) {
        const res = await sys.http().get(path).set('Authorization', as(third));
        expect(res.status, path).to.equal(404);
        expect(res.body.error.code, path).to.equal('not_found');
      }
      const thirdList = await sys.http().get('/v1/bulk-pushes').set('Authorization', as(third));
      expect(thirdList.body.items).to.deep.equal([]);
    });
  });

  describe('a job with several outcomes', () => {
    const password = 'Zq8!unmistakable-password-71';
    const pushed = ['mix-a.example', 'mix-b.example', 'mix-c.example', 'mix-d.example'];
    const failed = ['mix-missing-1.example', 'mix-missing-2.example', 'mix-foreign.example'];
    let id: string;

    before(async () => {
      await importDomains(sys, [
        ...pushed.map((name) => ({ name, reseller: 'losing' })),
        { name: 'mix-foreign.example', reseller: 'third' },
      ]);
      const profile = await sys
        .http()
        .post('/v1/profiles')
        .set('Authorization', as(gaining))
        .send({ domain: 'mix-home.example', username: 'mix-home', password });
      expect(profile.status).to.equal(201);
      const res = await submit(sys, losing, {
        gaining_reseller: 'gaining',
        domains: [pushed[0], failed[0], pushed[1], failed[1], pushed[2], failed[2], pushed[3]],
        profile: { mode: 'existing', domain: 'mix-home.example', username: 'mix-home', password },
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(JSON.stringify(res.body)).to.not.include(password);
      id = res.body.id;
      await waitForJob(sys, losing, id);
    });

    it('the job view never contains the password, and its counts add up to the total', async () => {
      for (const who of [losing, gaining]) {
        for (const path of [`/v1/bulk-pushes/${id}`, `/v1/jobs/${id}`, '/v1/bulk-pushes', '/v1/jobs', `/v1/jobs/${id}/items`]) {
          const res = await sys.http().get(path).set('Authorization', as(who));
          expect(res.status, path).to.equal(200);
          expect(JSON.stringify(res.body), path).to.not.include(password);
        }
      }
      const csv = await sys.http().get(`/v1/jobs/${id}/items`).set('Authorization', as(losing)).set('Accept', 'text/csv');
      expect(csv.text).to.not.include(password);

      const job = bodyOf<JobView>(await sys.http().get(`/v1/bulk-pushes/${id}`).set('Authorization', as(losing)));
      expect(job).to.include({ kind: 'push', status: 'completed', total: 7, losing_reseller: 'losing', gaining_reseller: 'gaining' });
      expect(job.counts).to.deep.equal({ pending: 0, running: 0, pushed: 4, skipped: 0, failed: 3, cancelled: 0 });
      expect(sumCounts(job.counts)).to.equal(job.total);
      expect((job.options as JsonObject).profile).to.deep.equal({ mode: 'existing', domain: 'mix-home.example', username: 'mix-home' });
      for (const k of ['created_at', 'started_at', 'finished_at']) expect(job[k], k).to.be.a('string');
      expect(job).to.have.property('rate');
      expect(job).to.have.property('eta_seconds', null);
    });

    it('?status=failed returns only the failed items', async () => {
      const res = await sys.http().get(`/v1/bulk-pushes/${id}/items`).query({ status: 'failed' }).set('Authorization', as(losing));
      expect(res.status).to.equal(200);
      const failedItems = bodyOf<Page<ItemView>>(res).items;
      expect(failedItems.map((i) => i.domain).sort()).to.deep.equal([...failed].sort());
      for (const i of failedItems) expect(i.status).to.equal('failed');
      expect(Object.fromEntries(failedItems.map((i) => [i.domain, i.reason]))).to.deep.equal({
        'mix-missing-1.example': 'not_found',
        'mix-missing-2.example': 'not_found',
        'mix-foreign.example': 'not_owned',
      });
      const pushedOnly = await sys
        .http()
        .get(`/v1/bulk-pushes/${id}/items`)
        .query({ status: 'pushed', limit: 3 })
        .set('Authorization', as(losing));
      expect(pushedOnly.body.items).to.have.length(3);
      expect(pushedOnly.body.next_cursor).to.be.a('string');
    });

    it('cursor pagination over the items covers every item exactly once', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: Response = await sys
          .http()
          .get(`/v1/jobs/${id}/items`)
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set('Authorization', as(losing));
        expect(res.status).to.equal(200);
        const page: Page<ItemView> = bodyOf(res);
        expect(page.items.length).to.be.at.most(2);
        seen.push(...page.items.map((i) => i.domain));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 20);
      expect(pages).to.equal(4);
      expect(seen).to.have.length(7);
      expect([...seen].sort()).to.deep.equal([...pushed, ...failed].sort());
    });

    it('Accept: text/csv streams the header and one row per item, matching the items API', async () => {
      const res = await sys.http().get(`/v1/bulk-pushes/${id}/items`).set('Authorization', as(losing)).set('Accept', 'text/csv');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/csv/);
      expect(res.text.split('\n')[0]).to.equal(CSV_HEADER);
      const rows = csvItems(res.text);
      const items = await allItems(sys, losing, id);
      expect(rows).to.have.length(7);
      expect(rows).to.deep.equal(items.map(csvColumns));
    });

    it('the events stream of a finished job sends one end event with the final state', async () => {
      const { status, contentType, events } = await readEvents(`${sys.url}/v1/jobs/${id}/events`, losing.key);
      expect(status).to.equal(200);
      expect(contentType).to.match(/^text\/event-stream/);
      expect(events.map((e) => e.event)).to.deep.equal(['end']);
      expect(events[0].data).to.include({ id, status: 'completed', total: 7 });
      expect(events[0].data.counts).to.include({ pushed: 4, failed: 3 });
      expect(JSON.stringify(events)).to.not.include(password);
    });
  });

  it('the events stream of a running job sends progress events, then an end event with the final state', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `sse-locked-${i}.example`);
    await importDomains(
      sys,
      names.map((name) => ({ name, reseller: 'losing', locked: true })),
    );
    registry.delayMs = 250; // every registry call is slow, so the locked path takes seconds
    try {
      const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains: names, apply_to_locked: true });
      expect(res.status).to.equal(202);
      const { status, events } = await readEvents(`${sys.url}/v1/bulk-pushes/${res.body.id}/events`, losing.key);
      expect(status).to.equal(200);
      const kinds = events.map((e) => e.event);
      expect(kinds.filter((k) => k === 'progress').length).to.be.at.least(1);
      expect(kinds[kinds.length - 1]).to.equal('end');
      expect(kinds.filter((k) => k === 'end')).to.have.length(1);
      for (const e of events.slice(0, -1)) expect(['queued', 'running']).to.include(e.data.status);
      const end = events[events.length - 1].data;
      expect(end).to.include({ status: 'completed', total: 6 });
      expect(end.counts).to.include({ pushed: 6, pending: 0, running: 0 });
    } finally {
      registry.delayMs = 0;
    }
    for (const n of names) {
      const d = await sys.http().get(`/v1/domains/${n}`).set('Authorization', as(gaining));
      expect(d.body.locked, n).to.equal(true);
    }
  });

  it('while a job runs, its view shows a plausible rate (items per second) and eta_seconds', async () => {
    // Unlocked domains are done as soon as the chunk is taken; the locked ones then take slow
    // registry calls, so the job is seen running with some items done and some left.
    const names = Array.from({ length: 8 }, (_, i) => `rate-${i < 3 ? 'plain' : 'locked'}-${i}.example`);
    await importDomains(
      sys,
      names.map((name) => ({ name, reseller: 'losing', locked: name.includes('locked') })),
    );
    registry.delayMs = 100;
    try {
      const submitted = Date.now();
      const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains: names, apply_to_locked: true });
      expect(res.status).to.equal(202);
      const finishedOf = (v: JobView) => v.counts.pushed + v.counts.skipped + v.counts.failed + v.counts.cancelled;
      const view = await waitUntil(
        async () => {
          const v = bodyOf<JobView>(await sys.http().get(`/v1/bulk-pushes/${res.body.id}`).set('Authorization', as(losing)));
          return v.status === 'running' && finishedOf(v) >= 2 && finishedOf(v) < v.total ? v : null;
        },
        { interval: 5, label: 'the job running with some items done and some left' },
      );
      const elapsed = (Date.now() - submitted) / 1000; // at least as long as the job has run
      const done = finishedOf(view);
      const left = view.total - done;
      // rate is items done per second since the start, rounded to 0.1; the job has run no longer than `elapsed`.
      expect(view.rate, 'rate').to.be.a('number');
      const rate = view.rate!;
      expect(rate, 'rate').to.be.greaterThan(0);
      expect(rate, 'rate').to.be.at.least(done / elapsed - 0.05);
      // eta is the time the items left take at that rate, in whole seconds.
      expect(view.eta_seconds, 'eta_seconds').to.be.a('number');
      const eta = view.eta_seconds!;
      expect(Number.isInteger(eta), `eta_seconds ${eta} is whole`).to.equal(true);
      expect(eta, 'eta_seconds').to.be.at.least(Math.floor(left / (rate + 0.05)));
      expect(eta, 'eta_seconds').to.be.at.most(Math.ceil(left / Math.max(rate - 0.05, 0.01)) + 1);

      const end = await waitForJob(sys, losing, res.body.id);
      expect(end.status).to.equal('completed');
      expect(end.eta_seconds, 'no eta once the job has ended').to.equal(null);
      expect(end.rate).to.be.a('number').and.to.be.greaterThan(0);
    } finally {
      registry.delayMs = 0;
    }
  });

  describe('push settings', () => {
    let pg: TestReseller;
    let pl: TestReseller;
    before(async () => {
      pg = await makeReseller(sys, 'ps-gaining');
      pl = await makeReseller(sys, 'ps-losing');
      await importDomains(sys, [{ name: 'ps-1.example', reseller: 'ps-losing' }]);
    });

    it('shows the company_id, the allowed resellers and the notification email', async () => {
      await sys
        .http()
        .put('/v1/push-settings/notification-email')
        .set('Authorization', as(pg))
        .send({ email: 'Incoming@PS-Gaining.example' });
      await authorize(sys, pg, pl);
      const res = await sys.http().get('/v1/push-settings').set('Authorization', as(pg));
      expect(res.status).to.equal(200);
      expect(res.body.company_id).to.equal(pg.company_id);
      expect(res.body.notification_email).to.equal('incoming@ps-gaining.example');
      expect(bodyOf<{ allowed_resellers: JsonObject[] }>(res).allowed_resellers.map((r) => [r.username, r.company_id])).to.deep.equal([
        ['ps-losing', pl.company_id],
      ]);
      const cleared = await sys.http().put('/v1/push-settings/notification-email').set('Authorization', as(pg)).send({ email: null });
      expect(cleared.status).to.equal(200);
      expect((await sys.http().get('/v1/push-settings').set('Authorization', as(pg))).body.notification_email).to.equal(null);
    });

    it('adding an allowed reseller is idempotent and takes a username or a company_id', async () => {
      for (const handle of ['ps-losing', pl.company_id, 'PS-Losing']) {
        const res = await sys.http().post('/v1/push-settings/allowed-resellers').set('Authorization', as(pg)).send({ reseller: handle });
        expect(res.status, handle).to.equal(201);
        expect(res.body).to.include({ username: 'ps-losing', company_id: pl.company_id });
      }
      const res = await sys.http().get('/v1/push-settings').set('Authorization', as(pg));
      expect(res.body.allowed_resellers).to.have.length(1);
    });

    it('after the gaining reseller revokes an authorization, the next submit is refused with not_authorized', async () => {
      await authorize(sys, pg, pl);
      const ok = await submit(sys, pl, { gaining_reseller: 'ps-gaining', domains: ['ps-1.example'], dry_run: true });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      const del = await sys.http().delete('/v1/push-settings/allowed-resellers/ps-losing').set('Authorization', as(pg));
      expect(del.status).to.equal(204);
      expect((await sys.http().get('/v1/push-settings').set('Authorization', as(pg))).body.allowed_resellers).to.deep.equal([]);
      const jobsBefore = Number((await sys.db('bulk_jobs').count('* as n').first())!.n);
      const refused = await submit(sys, pl, { gaining_reseller: 'ps-gaining', domains: ['ps-1.example'] });
      expect(refused.status).to.equal(403);
      expect(refused.body.error.code).to.equal('not_authorized');
      expect(Number((await sys.db('bulk_jobs').count('* as n').first())!.n)).to.equal(jobsBefore);
      const again = await sys.http().delete('/v1/push-settings/allowed-resellers/ps-losing').set('Authorization', as(pg));
      expect(again.status).to.equal(404);
    });
  });

  describe('domain list', () => {
    let cat: TestReseller;
    const all = ['cat-alpha.example', 'cat-beta.example', 'cat-alphabet.example', 'cat-gamma.example', 'cat-delta.example'];
    before(async () => {
      cat = await makeReseller(sys, 'catalog');
      const locked = new Set(['cat-alphabet.example', 'cat-beta.example']);
      await importDomains(
        sys,
        all.map((name) => ({ name, reseller: 'catalog', locked: locked.has(name) })),
      );
      await importDomains(sys, [{ name: 'alpha-elsewhere.example', reseller: 'third' }]);
    });
    const list = async (query: Record<string, unknown>) => {
      const res = await sys.http().get('/v1/domains').query(query).set('Authorization', as(cat));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return bodyOf<Page<DomainView>>(res);
    };

    it('filters by locked and by a substring of the name, and shows only the caller’s domains', async () => {
      expect((await list({ locked: 'true' })).items.map((d) => d.name).sort()).to.deep.equal(['cat-alphabet.example', 'cat-beta.example']);
      expect((await list({ locked: 'false' })).items.map((d) => d.name).sort()).to.deep.equal([
        'cat-alpha.example',
        'cat-delta.example',
        'cat-gamma.example',
      ]);
      expect((await list({ q: 'ALPHA' })).items.map((d) => d.name).sort()).to.deep.equal(['cat-alpha.example', 'cat-alphabet.example']);
      expect((await list({ q: 'alpha', locked: 'true' })).items.map((d) => d.name)).to.deep.equal(['cat-alphabet.example']);
      expect((await list({ q: 'nothing-like-this' })).items).to.deep.equal([]);
      for (const d of (await list({ locked: 'true' })).items) expect(d.locked).to.equal(true);
    });

    it('paginates with limit and next_cursor, covering every domain exactly once', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await list({ limit: 2, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).to.be.at.most(2);
        seen.push(...page.items.map((d) => d.name));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).to.equal(3);
      expect([...seen].sort()).to.deep.equal([...all].sort());
      expect(seen).to.have.length(5);
    });
  });

  describe('operations endpoints', () => {
    it('/healthz is 200 and /readyz reports Postgres and Redis ok', async () => {
      expect((await sys.http().get('/healthz')).status).to.equal(200);
      const ready = await sys.http().get('/readyz');
      expect(ready.status, JSON.stringify(ready.body)).to.equal(200);
      expect(ready.body.checks).to.include({ postgres: 'ok', redis: 'ok' });
    });

    it('/metrics exposes items processed, queue depth and outbox backlog', async () => {
      await importDomains(sys, [{ name: 'metrics-1.example', reseller: 'losing' }]);
      expect((await pushAndWait({ domains: ['metrics-1.example'] })).job.counts.pushed).to.equal(1);
      const res = await sys.http().get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
      expect(res.status).to.equal(200);
      expect(res.text).to.match(/^domain_push_items_processed_total\{[^}]*status="pushed"[^}]*\} \d+/m);
      expect(res.text).to.match(/^domain_push_queue_depth\{/m);
      expect(res.text).to.match(/^domain_push_outbox_backlog \d+/m);
    });

    it('/admin/queues needs the operator key, as a bearer token or as the basic-auth password', async () => {
      const none = await sys.http().get('/admin/queues');
      expect(none.status).to.equal(401);
      expect(none.headers['www-authenticate']).to.match(/^Basic/);
      expect((await sys.http().get('/admin/queues').auth('anyone', OPERATOR_KEY)).status).to.equal(200);
      expect((await sys.http().get('/admin/queues').auth('operator', OPERATOR_KEY)).status).to.equal(200);
      expect((await sys.http().get('/admin/queues').set('Authorization', `Bearer ${OPERATOR_KEY}`)).status).to.equal(200);
      expect((await sys.http().get('/admin/queues').set('Authorization', as(losing))).status).to.equal(401);
      expect((await sys.http().get('/admin/queues').auth('losing', losing.key)).status).to.equal(401);
      expect((await sys.http().get('/admin/queues').auth('operator', 'wrong-key')).status).to.equal(401);
    });
  });

  describe('emails', () => {
    const unsent = async () => Number((await sys.db('outbound_emails').whereNull('sent_at').count('* as n').first())!.n);
    const outboxDrained = () =>
      waitUntil(async () => (await unsent()) === 0, { timeout: 20_000, interval: 50, label: 'every email to be sent' });
    const to = (m: ParsedMail) => (Array.isArray(m.to) ? m.to.map((a) => a.text).join(',') : (m.to?.text ?? ''));
    const aboutJob = (id: string) => sys.smtp.messages.filter((m) => (m.text ?? '').includes(id));

    it('the results email’s CSV attachment matches the items API row for row; the gaining notification lists every pushed domain and names the sender', async () => {
      await sys
        .http()
        .put('/v1/push-settings/notification-email')
        .set('Authorization', as(gaining))
        .send({ email: 'incoming@gaining.example' });
      const plain = ['em-1.example', 'em-2.example', 'em-3.example'];
      await importDomains(sys, [
        ...plain.map((name) => ({ name, reseller: 'losing' })),
        { name: 'em-locked.example', reseller: 'losing', locked: true },
        { name: 'em-foreign.example', reseller: 'third' },
      ]);
      // A relock that times out twice is retried; the CSV still says relocked.
      registry.failNext('em-locked.example', 'lock', 2);
      const { id } = await pushAndWait({
        domains: [...plain, 'em-locked.example', 'em-foreign.example', 'em-missing.example'],
        apply_to_locked: true,
        email_results_to: 'results@losing.example',
      });
      const results = await sys.smtp.waitFor((m) => to(m) === 'results@losing.example' && (m.text ?? '').includes(id));
      expect(results.subject).to.match(/: completed with 2 failures \(4 of 6 pushed\)$/);
      expect(results.text).to.include('pushed: 4').and.include('failed: 2');
      expect(results.attachments).to.have.length(1);
      const att = results.attachments[0];
      expect(att.contentType).to.match(/^text\/csv/);
      const rows = csvItems(att.content.toString('utf8'));
      const items = await allItems(sys, losing, id);
      expect(rows).to.have.length(items.length).and.to.have.length(6);
      expect(rows).to.deep.equal(items.map(csvColumns));
      expect(rows.find((r) => r.domain === 'em-locked.example')).to.include({ status: 'pushed', was_locked: true, relocked: true });
      expect(rows.find((r) => r.domain === 'em-foreign.example')).to.include({ status: 'failed', reason: 'not_owned' });

      const note = await sys.smtp.waitFor((m) => to(m) === 'incoming@gaining.example' && (m.text ?? '').includes(id));
      for (const d of [...plain, 'em-locked.example']) expect(note.text).to.include(d);
      expect(note.text).to.not.include('em-foreign.example');
      expect(note.text).to.not.include('em-missing.example');
      expect(`${note.subject}\n${note.text}`).to.include('losing');
      await outboxDrained();
      expect(aboutJob(id).filter((m) => to(m) === 'incoming@gaining.example')).to.have.length(1);
    });

    it('no gaining notification is sent when nothing was pushed', async () => {
      await sys
        .http()
        .put('/v1/push-settings/notification-email')
        .set('Authorization', as(gaining))
        .send({ email: 'incoming@gaining.example' });
      await importDomains(sys, [{ name: 'em-none-locked.example', reseller: 'losing', locked: true }]);
      const { id, job } = await pushAndWait({
        domains: ['em-none-locked.example', 'em-none-missing.example'],
        email_results_to: 'results-none@losing.example',
      });
      expect(job.counts).to.include({ pushed: 0, skipped: 1, failed: 1 });
      await sys.smtp.waitFor((m) => to(m) === 'results-none@losing.example' && (m.text ?? '').includes(id));
      await outboxDrained();
      expect(aboutJob(id).map(to)).to.deep.equal(['results-none@losing.example']);
    });

    it('no gaining notification is sent when the gaining reseller has no notification email', async () => {
      const quiet = await makeReseller(sys, 'quiet');
      await authorize(sys, quiet, losing);
      await importDomains(sys, [{ name: 'em-quiet.example', reseller: 'losing' }]);
      const { id, job } = await pushAndWait({
        gaining_reseller: 'quiet',
        domains: ['em-quiet.example'],
        email_results_to: 'results-quiet@losing.example',
      });
      expect(job.counts.pushed).to.equal(1);
      await sys.smtp.waitFor((m) => to(m) === 'results-quiet@losing.example' && (m.text ?? '').includes(id));
      await outboxDrained();
      expect(aboutJob(id).map(to)).to.deep.equal(['results-quiet@losing.example']);
    });
  });
});
