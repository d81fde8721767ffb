import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createLogger } from '../../shared/platform/logger';
import { ensureRedis } from '../../shared/platform/redis';

// Port 1 never has a Redis: it stands for "nothing answers on 127.0.0.1:6379".
const NOTHING = 1;

describe('finding Redis when REDIS_URL is unset', function () {
  this.timeout(20_000);
  const log = createLogger('silent');
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-redis-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('uses REDIS_URL as given when it is set', async () => {
    const h = await ensureRedis('redis://example.invalid:6390', dir, log, { port: NOTHING, path: '' });
    expect(h.url).to.equal('redis://example.invalid:6390');
  });

  it('starts a private redis-server from PATH, with noeviction, when nothing answers', async function () {
    if (!process.env.PATH?.split(':').some((p) => fs.existsSync(path.join(p, 'redis-server')))) this.skip();
    const h = await ensureRedis(undefined, dir, log, { port: NOTHING, path: process.env.PATH! });
    const r = new Redis(h.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await r.ping()).to.equal('PONG');
      expect(((await r.config('GET', 'maxmemory-policy')) as string[])[1]).to.equal('noeviction');
    } finally {
      r.disconnect();
      await h.stop();
    }
  });

  it('refuses to start, saying how to get Redis, when there is no redis-server either', async () => {
    const err = await ensureRedis(undefined, dir, log, { port: NOTHING, path: '/nonexistent' }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message)
      .to.match(/No Redis/)
      .and.match(/REDIS_URL/)
      .and.match(/apt-get install redis-server/);
  });
});
