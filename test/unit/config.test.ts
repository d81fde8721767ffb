import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../shared/platform/config';
import { parseClusterNodes } from '../../shared/platform/redis';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('configuration: loadConfig', () => {
  it('with nothing set, uses the documented defaults (embedded database, local capture for email)', () => {
    const c = loadConfig({});
    expect(c).to.include({
      PORT: 3000,
      MAX_DOMAINS_PER_JOB: 50_000,
      WORKER_CONCURRENCY: 2,
      CHUNK_SIZE: 1000,
      LOG_LEVEL: 'info',
      SUSPEND_TTL_SECONDS: 14 * 24 * 3600,
      DATA_DIR: './data',
    });
    expect(c.DATABASE_URL).to.equal(undefined);
    expect(c.REDIS_URL).to.equal(undefined);
    expect(c.SMTP_URL).to.equal(undefined);
    expect(c.ADMIN_API_KEY).to.equal(undefined);
  });

  it('treats an empty or blank variable as unset (a blank PORT must not become a random port 0)', () => {
    const c = loadConfig({ PORT: '', DATABASE_URL: '', MAX_DOMAINS_PER_JOB: '' });
    expect(c.PORT).to.equal(3000);
    expect(loadConfig({ PORT: '   ' }).PORT).to.equal(3000);
    expect(c.DATABASE_URL).to.equal(undefined);
    expect(c.MAX_DOMAINS_PER_JOB).to.equal(50_000);
  });

  it('reads numbers from their string form and accepts valid URLs', () => {
    const c = loadConfig({
      PORT: '8080',
      MAX_DOMAINS_PER_JOB: '5',
      CHUNK_SIZE: '250',
      WORKER_CONCURRENCY: '4',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgres://u:p@db:5432/push',
      REDIS_URL: 'rediss://cache:6380',
      SMTP_URL: 'smtp://mail:25',
      ADMIN_API_KEY: 'a-long-enough-operator-key',
    });
    expect(c).to.include({ PORT: 8080, MAX_DOMAINS_PER_JOB: 5, CHUNK_SIZE: 250, WORKER_CONCURRENCY: 4, LOG_LEVEL: 'debug' });
    expect(c.DATABASE_URL).to.equal('postgres://u:p@db:5432/push');
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/push' }).DATABASE_URL).to.equal('postgresql://db/push');
  });

  it('ignores variables it does not know', () => {
    const c = loadConfig({ HOME: '/root', PATH: '/bin' }) as Record<string, unknown>;
    expect(c).to.not.have.property('HOME');
  });

  it('returns a frozen object, so nothing can change the configuration after start', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).to.equal(true);
  });

  it('lets overrides win over the environment (tests inject their own database and key)', () => {
    const c = loadConfig({ PORT: '8080' }, { PORT: 0, CHUNK_SIZE: 100 });
    expect(c.PORT).to.equal(0);
    expect(c.CHUNK_SIZE).to.equal(100);
  });

  it('refuses PORT out of range or not a whole number, naming PORT', () => {
    for (const PORT of ['65536', '-1', '70000', 'http', '80.5']) {
      const problems = problemsOf({ PORT });
      expect(problems, PORT).to.have.length(1);
      expect(problems[0], PORT).to.match(/^PORT: /);
    }
    expect(loadConfig({ PORT: '65535' }).PORT).to.equal(65535);
  });

  it('refuses a DATABASE_URL with another scheme or that is not a URL, saying which schemes it takes', () => {
    for (const DATABASE_URL of ['mysql://db/push', 'sqlite:./push.db', 'not a url', 'http://db:5432/push']) {
      const problems = problemsOf({ DATABASE_URL });
      expect(problems, DATABASE_URL).to.have.length(1);
      expect(problems[0], DATABASE_URL)
        .to.match(/^DATABASE_URL: /)
        .and.include('postgres:');
    }
  });

  it('refuses REDIS_URL and SMTP_URL with the wrong scheme', () => {
    expect(problemsOf({ REDIS_URL: 'http://cache:6379' })[0])
      .to.match(/^REDIS_URL: /)
      .and.include('redis:');
    expect(problemsOf({ SMTP_URL: 'imap://mail' })[0])
      .to.match(/^SMTP_URL: /)
      .and.include('smtp:');
  });

  it('refuses an operator key that is too short to be a secret', () => {
    expect(problemsOf({ ADMIN_API_KEY: 'short' })[0]).to.match(/^ADMIN_API_KEY: .*16/);
  });

  it('refuses bad limits and an unknown log level', () => {
    expect(problemsOf({ MAX_DOMAINS_PER_JOB: '0' })[0]).to.match(/^MAX_DOMAINS_PER_JOB: /);
    expect(problemsOf({ CHUNK_SIZE: 'lots' })[0]).to.match(/^CHUNK_SIZE: /);
    expect(problemsOf({ WORKER_CONCURRENCY: '0' })[0]).to.match(/^WORKER_CONCURRENCY: /);
    expect(problemsOf({ LOG_LEVEL: 'loud' })[0]).to.match(/^LOG_LEVEL: /);
  });

  it('reports every bad variable at once, one line each, in a single error', () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: '99999',
        DATABASE_URL: 'mysql://db/push',
        REDIS_URL: 'http://cache',
        MAX_DOMAINS_PER_JOB: '-5',
        LOG_LEVEL: 'loud',
        ADMIN_API_KEY: 'short',
        CHUNK_SIZE: '100', // valid: must not appear
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const { problems, message } = err as ConfigError;
    const named = problems.map((p) => p.split(':')[0]).sort();
    expect(named).to.deep.equal(['ADMIN_API_KEY', 'DATABASE_URL', 'LOG_LEVEL', 'MAX_DOMAINS_PER_JOB', 'PORT', 'REDIS_URL']);
    for (const p of problems) expect(message).to.include(p);
    expect(message).to.not.include('CHUNK_SIZE');
  });

  it('does not echo a bad DATABASE_URL back, which could carry a password', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://admin:hunter2-secret@db/push' });
    expect(problems.join('\n')).to.not.include('hunter2-secret');
  });
});

describe('configuration: Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('takes host:port seeds and redis:// seeds with credentials, shared by every node', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis://app:s3cret@10.0.0.2:7001 ' });
    expect(config.REDIS_CLUSTER_NODES).to.equal('10.0.0.1:7000, redis://app:s3cret@10.0.0.2:7001');
    expect(parseClusterNodes(config.REDIS_CLUSTER_NODES!)).to.deep.equal({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      auth: { username: 'app', password: 's3cret' },
    });
    // Unset, the prefix is derived at start from the deployment id, and is always a hash tag.
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://redis.internal:6380' }).QUEUE_PREFIX).to.equal(undefined);
    expect(parseClusterNodes('rediss://redis.internal:6380').auth).to.deep.equal({ tls: {} });
  });

  it('refuses a seed without a port or with another scheme, naming the entry but not echoing it', () => {
    for (const bad of ['10.0.0.1', 'http://10.0.0.1:7000', 'redis://admin:hunter2-secret@:7000', ',']) {
      const problems = problemsOf({ REDIS_CLUSTER_NODES: bad });
      expect(problems, bad).to.have.length(1);
      expect(problems[0], bad).to.match(/^REDIS_CLUSTER_NODES: must be host:port/);
      expect(problems[0], bad).to.not.include('hunter2-secret');
    }
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together: one of them would be silently ignored', () => {
    const problems = problemsOf({ REDIS_URL: 'redis://cache:6379', REDIS_CLUSTER_NODES: 'cache:7000' });
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^REDIS_CLUSTER_NODES: set either REDIS_URL .* or REDIS_CLUSTER_NODES, not both/);
  });

  it('refuses a QUEUE_PREFIX without a hash tag on a cluster (BullMQ scripts need one slot per queue), also as an override', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'cache:7000', QUEUE_PREFIX: 'push' })[0]).to.match(
      /^QUEUE_PREFIX: must contain a Redis Cluster hash tag/,
    );
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'cache:7000' }, { QUEUE_PREFIX: 'bench' })).to.throw(ConfigError, /hash tag/);
    expect(loadConfig({ QUEUE_PREFIX: 'push' }).QUEUE_PREFIX).to.equal('push');
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'cache:7000', QUEUE_PREFIX: 'eu-{push}' }).QUEUE_PREFIX).to.equal('eu-{push}');
  });
});
