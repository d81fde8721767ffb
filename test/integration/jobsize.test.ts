import { expect } from 'chai';
import { attachmentCsv, attachmentRenderers, PLAIN_CSV_MAX_ITEMS, resultsAttachment } from '../../shared/bulk/results-attachment';
import { KINDS } from '../../shared/kinds';
import { gainingNotification } from '../../shared/push/emails';
import { authorize, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * Issue 20 part 2, flat with job size: an `all_domains` submit writes its chunks in Postgres
 * (INSERT … SELECT) instead of reading every name into the API and sending it back; a cancel of a
 * big job answers about as fast as one of a small job; a big job's results CSV is attached gzipped,
 * never built as one string in the worker.
 */
describe('job size', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 1000, MAX_DOMAINS_PER_JOB: 60_000 } });
    losing = await makeReseller(sys, 'size-losing');
    gaining = await makeReseller(sys, 'size-gaining');
    await authorize(sys, gaining, losing);
  });
  after(async () => {
    await sys?.stop();
  });

  /** `n` domains of `owner`, named so that name order differs from insertion order. */
  const seed = (owner: TestReseller, tag: string, n: number) =>
    sys.db.raw(
      `insert into domains (name, reseller_id)
       select ? || '-' || lpad(((i * 7919) % ?)::text, 6, '0') || '.example', ? from generate_series(0, ?::int - 1) i`,
      [tag, n, owner.id, n],
    );

  it('all_domains writes the chunks in Postgres: every domain once, in name order, ids increasing; then pushes them all', async () => {
    const other = await makeReseller(sys, 'size-other');
    await authorize(sys, gaining, other);
    await seed(other, 'every', 2_500);
    const res = await submit(sys, other, { gaining_reseller: 'size-gaining', all_domains: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.total).to.equal(2_500);
    const job = await sys.db('bulk_jobs').where({ id: res.body.id }).first();
    expect(Number(job.total)).to.equal(2_500);
    expect(job.chunk_count).to.equal(3);
    const chunks = await sys.db('bulk_job_chunks').where({ job_id: res.body.id }).orderBy('chunk');
    expect(chunks.map((c) => c.chunk)).to.deep.equal([0, 1, 2]);
    expect(chunks.map((c) => c.names.length)).to.deep.equal([1000, 1000, 500]);
    const names: string[] = chunks.flatMap((c) => c.names);
    const ids: number[] = chunks.flatMap((c) => c.item_ids.map(Number));
    const held = await sys.db('domains').where({ reseller_id: other.id }).orderBy('name').pluck('name');
    expect(names).to.deep.equal(held);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).to.equal(true);
    const counts = await sys.db('bulk_job_chunk_counts').where({ job_id: res.body.id }).orderBy('chunk');
    expect(counts.map((c) => c.counts.pending)).to.deep.equal([1000, 1000, 500]);

    await sys.startWorker();
    try {
      const done = await waitForJob(sys, other, res.body.id, undefined, 90_000);
      expect(done.status).to.equal('completed');
      expect(done.counts.pushed).to.equal(2_500);
      expect(Number((await sys.db('domains').where({ reseller_id: other.id }).count('* as n').first())?.n)).to.equal(0);
    } finally {
      await sys.stopWorker();
    }
  });

  it('all_domains over MAX_DOMAINS_PER_JOB is refused with 400 too_many_domains and writes nothing', async () => {
    const many = await makeReseller(sys, 'size-many');
    await authorize(sys, gaining, many);
    await seed(many, 'many', 60_001);
    const jobs = await sys.db('bulk_jobs').count('* as n').first();
    const res = await submit(sys, many, { gaining_reseller: 'size-gaining', all_domains: true });
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal('too_many_domains');
    expect(res.body.error.details).to.deep.include({ max: 60_000, given: 60_001 });
    expect(await sys.db('bulk_jobs').count('* as n').first()).to.deep.equal(jobs);
  });

  it('a cancel of a 50,000-domain job answers about as fast as one of a 500-domain job (it marks the job; items end after)', async () => {
    await seed(losing, 'big', 50_000);
    const small = await makeReseller(sys, 'size-small');
    await authorize(sys, gaining, small);
    await seed(small, 'small', 500);
    const timed = async (who: TestReseller) => {
      const res = await submit(sys, who, { gaining_reseller: 'size-gaining', all_domains: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      const t0 = performance.now();
      const answer = await sys.http().post(`/v1/bulk-pushes/${res.body.id}/cancel`).set('Authorization', `Bearer ${who.key}`);
      const ms = performance.now() - t0;
      expect(answer.status, JSON.stringify(answer.body)).to.equal(202);
      return { id: res.body.id as string, ms, status: answer.body.status as string };
    };
    const smallCancel = await timed(small);
    const bigCancel = await timed(losing);
    expect(smallCancel.status).to.equal('cancelled');
    expect(bigCancel.status).to.equal('cancelling');
    // 100 times the items: the answer may not grow with them (a generous ratio and bound for a loaded machine).
    expect(bigCancel.ms, `big ${bigCancel.ms} ms, small ${smallCancel.ms} ms`).to.be.below(Math.max(5 * smallCancel.ms, 1_000));
    const ended = await waitForJob(sys, losing, bigCancel.id, ['cancelled'], 90_000);
    expect(ended.counts.cancelled).to.equal(50_000);
  });

  /** The row of an ended push of `total` items (its items are the test's to insert). */
  async function completedPush(total: number): Promise<string> {
    const id = crypto.randomUUID();
    await sys.db('bulk_jobs').insert({
      id,
      kind: 'push',
      status: 'completed',
      losing_reseller_id: losing.id,
      gaining_reseller_id: gaining.id,
      options: '{}',
      total,
      chunk_count: Math.ceil(total / 1000),
    });
    return id;
  }

  it(`a job of more than ${PLAIN_CSV_MAX_ITEMS} items attaches its results CSV gzipped, with the same rows as the plain one`, async () => {
    const n = PLAIN_CSV_MAX_ITEMS + 1;
    const jobId = await completedPush(n);
    await sys.db.raw(
      `insert into bulk_job_items (job_id, chunk, domain_name, product, status, reason, message, started_at, finished_at)
       select ?, i / 1000, 'csv-' || lpad(i::text, 6, '0') || '.example', 'domain',
              case when i % 10 = 0 then 'failed' else 'pushed' end, case when i % 10 = 0 then 'not_found' end,
              case when i % 10 = 0 then 'Not "here", sorry' end, now(), now()
       from generate_series(0, ?::int - 1) i`,
      [jobId, n],
    );
    const gz = await resultsAttachment(sys.db, { id: jobId, kind: 'push', total: n });
    const plain = await resultsAttachment(sys.db, { id: jobId, kind: 'push', total: PLAIN_CSV_MAX_ITEMS });
    expect(gz.filename).to.equal(`push-${jobId}-results.csv.gz`);
    expect(gz).to.include({ contentType: 'application/gzip', encoding: 'base64' });
    expect(plain).to.include({ filename: `push-${jobId}-results.csv`, contentType: 'text/csv' });
    expect(plain.encoding).to.equal(undefined);
    const text = await attachmentCsv(gz);
    expect(text).to.equal(plain.content);
    const lines = text.trimEnd().split('\n');
    expect(lines).to.have.length(n + 1);
    expect(lines[0]).to.equal('domain,status,reason,message,was_locked,relocked,finished_at');
    expect(lines[1]).to.match(/^csv-000000\.example,failed,not_found,"Not ""here"", sorry",false,false,/);
    expect(gz.content.length).to.be.below(plain.content.length / 5);
  });

  it(`the gaining notice of more than ${PLAIN_CSV_MAX_ITEMS} domains names its CSV gzipped, and the relay makes it page by page with every domain once`, async () => {
    const n = PLAIN_CSV_MAX_ITEMS + 7;
    const jobId = await completedPush(n + 3);
    // n pushed (every tenth was locked and is locked again) and 3 failed, which the notice leaves out.
    await sys.db.raw(
      `insert into bulk_job_items (job_id, chunk, domain_name, product, status, reason, was_locked, relocked, started_at, finished_at)
       select ?, i / 1000, 'gz-' || lpad(i::text, 6, '0') || '.example', 'domain',
              case when i >= ?::int then 'failed' else 'pushed' end, case when i >= ?::int then 'not_found' end,
              i % 10 = 0, case when i % 10 = 0 then true end, now(), now()
       from generate_series(0, ?::int - 1) i`,
      [jobId, n, n, n + 3],
    );
    const summary = { count: n, locked: 0, relocked: 0, first: [{ domain: 'gz-000000.example' }] };
    const job = { id: jobId, kind: 'push', doneStatus: 'pushed', status: 'completed', total: n + 3, counts: { pushed: n, failed: 3 } };
    const notice = gainingNotification(
      'intake@gaining.example',
      { ...job, losing: 'losing', gaining: 'gaining', created_at: new Date(), started_at: null, finished_at: null, error: null },
      summary,
    );
    expect(notice.attachments).to.deep.equal([
      {
        filename: `push-${jobId}-received.csv.gz`,
        contentType: 'application/gzip',
        encoding: 'base64',
        render: { name: 'push-received-csv', args: { job_id: jobId } },
      },
    ]);
    expect(notice.text).to.include(`push-${jobId}-received.csv.gz`);

    const made = await attachmentRenderers(KINDS)['push-received-csv'](sys.db, { job_id: jobId });
    expect(made).to.include({ filename: `push-${jobId}-received.csv.gz`, contentType: 'application/gzip', encoding: 'base64' });
    const lines = (await attachmentCsv(made)).trimEnd().split('\n');
    expect(lines[0]).to.equal('domain,pushed_at,was_locked,relocked,profile');
    expect(lines).to.have.length(n + 1);
    // Every pushed domain once, in order, across the 5,000-row pages; no failed one.
    const domains = lines.slice(1).map((l) => l.split(',')[0]);
    expect(domains.filter((d, i) => d !== `gz-${String(i).padStart(6, '0')}.example`)).to.deep.equal([]);
    expect(lines[1]).to.match(/^gz-000000\.example,\d{4}-\d\d-\d\dT[^,]+Z,true,true,$/);
    expect(lines[2]).to.match(/^gz-000001\.example,[^,]+,false,,$/);
    expect(made.content.length).to.be.below(Buffer.byteLength(lines.join('\n')) / 5);
  });
});
