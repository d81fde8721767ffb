import { expect } from 'chai';
import { authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { jobItems, startChunk } from '../../shared/bulk/unstarted';

/**
 * Job views read per-chunk counters that triggers on bulk_job_items keep. These tests compare
 * what a reseller sees with the items themselves, at every stage a job's items change status.
 */
describe('job counts from the per-chunk item counters', () => {
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 3 } });
    losing = await makeReseller(sys, 'cnt-losing');
    const gaining = await makeReseller(sys, 'cnt-gaining');
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  /** Counts straight from the items, started or not, zero statuses left out (as the view's non-zero entries). */
  async function itemCounts(jobId: string) {
    const rows: { status: string }[] = await jobItems(sys.db, jobId);
    const out: Record<string, number> = {};
    for (const r of rows) out[r.status] = (out[r.status] ?? 0) + 1;
    return out;
  }

  async function counterRows(jobId: string) {
    return Number((await sys.db('bulk_job_chunk_counts').where({ job_id: jobId }).count('* as n').first())?.n);
  }

  async function viewCounts(jobId: string) {
    const res = await sys.http().get(`/v1/jobs/${jobId}`).set('Authorization', `Bearer ${losing.key}`);
    expect(res.status).to.equal(200);
    return Object.fromEntries(Object.entries(res.body.counts as Record<string, number>).filter(([, n]) => n > 0));
  }

  async function listedCounts(jobId: string) {
    const res = await sys.http().get('/v1/bulk-pushes').query({ limit: 100 }).set('Authorization', `Bearer ${losing.key}`);
    expect(res.status).to.equal(200);
    const job = res.body.items.find((j: { id: string }) => j.id === jobId);
    return Object.fromEntries(Object.entries(job.counts as Record<string, number>).filter(([, n]) => n > 0));
  }

  it('a submit writes one row per chunk and no item rows; the counters and the items list show every item pending, in order', async () => {
    const domains = ['cnt-u1.example', 'cnt-u2.example', 'cnt-u3.example', 'cnt-u4.example', 'cnt-u5.example'];
    const res = await submit(sys, losing, { gaining_reseller: 'cnt-gaining', domains });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const id = res.body.id as string;
    expect(await sys.db('bulk_job_items').where({ job_id: id }).pluck('id')).to.deep.equal([]);
    expect(await sys.db('bulk_job_chunks').where({ job_id: id }).orderBy('chunk').pluck('names')).to.deep.equal([
      domains.slice(0, 3),
      domains.slice(3),
    ]);
    expect(await viewCounts(id)).to.deep.equal({ pending: 5 });
    const listed = await sys.http().get(`/v1/jobs/${id}/items`).set('Authorization', `Bearer ${losing.key}`);
    expect(listed.status).to.equal(200);
    expect(listed.body.items.map((i: { domain: string; status: string }) => [i.domain, i.status])).to.deep.equal(
      domains.map((d) => [d, 'pending']),
    );
    // Once chunk 0 is item rows, they carry the ids reserved at submit: the order holds.
    await sys.db.transaction((trx) => startChunk(trx, id, 0));
    expect(await sys.db('bulk_job_chunks').where({ job_id: id }).pluck('chunk')).to.deep.equal([1]);
    expect(await viewCounts(id)).to.deep.equal({ pending: 5 });
    const again = await sys.http().get(`/v1/jobs/${id}/items`).query({ limit: 2 }).set('Authorization', `Bearer ${losing.key}`);
    const next = await sys
      .http()
      .get(`/v1/jobs/${id}/items`)
      .query({ limit: 10, cursor: again.body.next_cursor })
      .set('Authorization', `Bearer ${losing.key}`);
    expect([...again.body.items, ...next.body.items].map((i: { domain: string }) => i.domain)).to.deep.equal(domains);
    expect(await itemCounts(id)).to.deep.equal({ pending: 5 });
  });

  it('the ids reserved at submit follow the submission order across hundreds of chunks', async () => {
    const domains = Array.from({ length: 900 }, (_, i) => `cnt-order-${String(899 - i).padStart(3, '0')}.example`);
    const res = await submit(sys, losing, { gaining_reseller: 'cnt-gaining', domains });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const chunks: { chunk: number; item_ids: string[]; names: string[] }[] = await sys
      .db('bulk_job_chunks')
      .where({ job_id: res.body.id })
      .orderBy('chunk')
      .select('chunk', 'item_ids', 'names');
    expect(chunks.map((c) => c.chunk)).to.deep.equal([...Array(300).keys()]);
    expect(chunks.flatMap((c) => c.names)).to.deep.equal(domains);
    const ids = chunks.flatMap((c) => c.item_ids.map(Number));
    expect(
      ids.every((id, i) => i === 0 || id > ids[i - 1]),
      'ids strictly increasing in submission order',
    ).to.equal(true);
    await sys.http().post(`/v1/jobs/${res.body.id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
  });

  it('a queued job shows every item pending; once pushed, the view and the list show exactly the items’ statuses', async () => {
    const owned = ['cnt-a1.example', 'cnt-a2.example', 'cnt-a3.example', 'cnt-a4.example', 'cnt-a5.example'];
    const locked = ['cnt-l1.example', 'cnt-l2.example'];
    await importDomains(sys, [
      ...owned.map((name) => ({ name, reseller: 'cnt-losing' })),
      ...locked.map((name) => ({ name, reseller: 'cnt-losing', locked: true })),
    ]);
    const res = await submit(sys, losing, {
      gaining_reseller: 'cnt-gaining',
      domains: [...owned, ...locked, 'cnt-missing-1.example', 'cnt-missing-2.example'],
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const id = res.body.id as string;
    expect(await viewCounts(id)).to.deep.equal({ pending: 9 });
    // One counter row per chunk (9 items, CHUNK_SIZE 3).
    expect(await counterRows(id)).to.equal(3);

    await sys.startWorker();
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');
    const expected = { pushed: 5, skipped: 2, failed: 2 };
    expect(await itemCounts(id)).to.deep.equal(expected);
    expect(await viewCounts(id)).to.deep.equal(expected);
    expect(await listedCounts(id)).to.deep.equal(expected);
    await sys.stopWorker();
  });

  it('a cancelled queued job counts every item cancelled, as the items say', async () => {
    const domains = ['cnt-c1.example', 'cnt-c2.example', 'cnt-c3.example', 'cnt-c4.example'];
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'cnt-losing' })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'cnt-gaining', domains });
    expect(res.status).to.equal(202);
    const id = res.body.id as string;
    const cancel = await sys.http().post(`/v1/jobs/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(cancel.status, JSON.stringify(cancel.body)).to.equal(202);
    expect(cancel.body.status).to.equal('cancelled');
    expect(await itemCounts(id)).to.deep.equal({ cancelled: 4 });
    expect(await viewCounts(id)).to.deep.equal({ cancelled: 4 });
  });

  it('a deleted job takes its counters with it, and deleting items directly lowers the counts', async () => {
    const domains = ['cnt-d1.example', 'cnt-d2.example', 'cnt-d3.example', 'cnt-d4.example'];
    const res = await submit(sys, losing, { gaining_reseller: 'cnt-gaining', domains });
    expect(res.status).to.equal(202);
    const id = res.body.id as string;
    // Chunk 1 (cnt-d4) becomes an item row (pending here; a cancel or a failed chunk writes it ended).
    await sys.db.transaction((trx) => startChunk(trx, id, 1));
    expect(await viewCounts(id)).to.deep.equal({ pending: 4 });
    await sys.db('bulk_job_items').where({ job_id: id, domain_name: 'cnt-d4.example' }).del();
    expect(await viewCounts(id)).to.deep.equal({ pending: 3 });
    await sys.db('bulk_jobs').where({ id }).del();
    expect(await counterRows(id)).to.equal(0);
  });
});
