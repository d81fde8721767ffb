import { expect } from 'chai';
import { Queue } from 'bullmq';
import pino from 'pino';
import { clusterHandle, clusterReady, producerConnection, type RedisClient } from '../../shared/platform/redis';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-cluster';

/**
 * The producer's queue on a Redis Cluster, built while the cluster's ready check runs (its status
 * `connect`): what app/runtime.ts met at start when the cluster answered at just that moment, and
 * what made the cluster's e2e suite fail now and then.
 */
describe('Redis Cluster at start: the queue is built once the cluster is ready', function () {
  this.timeout(60_000);
  let cluster: LocalCluster;
  const opened: { conn: RedisClient; queue?: Queue }[] = [];
  const silent = pino({ level: 'silent' });

  before(async () => {
    cluster = await startLocalCluster(3);
  });
  afterEach(async () => {
    for (const o of opened.splice(0)) {
      await o.queue?.close().catch(() => undefined);
      o.conn.disconnect();
    }
  });
  after(async () => {
    await cluster?.stop();
  });

  /** A producer connection (no offline queue), and a promise of the moment it reports `connect`. */
  function producerAtConnect() {
    const conn = producerConnection(clusterHandle(cluster.nodes), silent);
    const entry: { conn: RedisClient; queue?: Queue } = { conn };
    opened.push(entry);
    const atConnect = new Promise<void>((r) => conn.once('connect', () => r()));
    return { entry, atConnect };
  }

  function queueOn(entry: { conn: RedisClient; queue?: Queue }) {
    entry.queue = new Queue('start-check', { connection: entry.conn, prefix: `{cluster-start-${process.pid}}` });
    entry.queue.on('error', () => undefined);
    return entry.queue;
  }

  it('built at `connect` without waiting, BullMQ keeps the failed start: every call fails, also once the cluster is ready', async () => {
    const { entry, atConnect } = producerAtConnect();
    await atConnect;
    expect(entry.conn.status).to.equal('connect');
    const queue = queueOn(entry);
    const first = await queue.setGlobalConcurrency(1).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    expect(first).to.match(/Cluster isn't ready/);
    expect(await clusterReady(entry.conn, 10_000)).to.equal(true);
    const later = await queue.setGlobalConcurrency(1).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    expect(later).to.match(/Cluster isn't ready/);
  });

  it('built after clusterReady at `connect`, the queue works', async () => {
    const { entry, atConnect } = producerAtConnect();
    await atConnect;
    expect(entry.conn.status).to.equal('connect');
    expect(await clusterReady(entry.conn, 10_000)).to.equal(true);
    expect(entry.conn.status).to.equal('ready');
    const queue = queueOn(entry);
    await queue.setGlobalConcurrency(3);
    expect(await queue.getGlobalConcurrency()).to.equal(3);
    await queue.removeGlobalConcurrency();
  });

  it('clusterReady gives up after its bound when no cluster answers (the API still starts)', async () => {
    const conn = producerConnection(clusterHandle('127.0.0.1:1'), silent);
    conn.on('error', () => undefined);
    opened.push({ conn });
    const t0 = Date.now();
    expect(await clusterReady(conn, 300)).to.equal(false);
    expect(Date.now() - t0).to.be.within(250, 3_000);
  });
});
