import { expect } from 'chai';
import { BreakerRegistry } from '../../shared/catalog/registry-breaker';
import { registryEach, type RegistryGateway } from '../../shared/catalog/registry';
import { STARTUP_RETRY, TransientFault, untilNoTransientFault } from '../../shared/platform/faults';
import { REDIS_RECONNECT, reconnectDelay } from '../../shared/platform/redis';
import { ApiClient, SUBMIT_RETRY, submitWithRetry } from '../../cli/http';
import { CliError, EXIT } from '../../cli/exit-codes';
import { RE_ENQUEUE_RETRY } from '../../shared/bulk/create';
import { retryPolicyOf } from '../../shared/catalog/registry';
import { OUTBOX_RETRY } from '../../shared/mail/outbox';
import { RELOCK_POLICY, UNLOCK_POLICY } from '../../shared/push/handler';
import { TRANSIENT_RETRY } from '../../worker/processors';
import { CircuitBreaker, CircuitOpen } from '../../shared/platform/breaker';
import { delayFor, retry, type RetryPolicy } from '../../shared/platform/retry';

/** A seeded source of uniform numbers (mulberry32): the same seed, the same draws. */
function seeded(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A virtual clock: `sleep` moves it on at once, so a test of minutes of backoff takes no time. */
function virtualClock() {
  const clock = {
    now: 0,
    sleep: async (ms: number) => {
      clock.now += ms;
    },
  };
  return clock;
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED registry:443'), { code: 'ECONNREFUSED' });
const policy: RetryPolicy = { attempts: 6, baseMs: 100, factor: 2, capMs: 1_000, jitter: 'full' };

/** One "worker" meeting the same failure schedule (the peer fails its first `failures` calls): the instants of its tries. */
async function triesOf(random: () => number, failures: number, p: RetryPolicy = policy) {
  const clock = virtualClock();
  const instants: number[] = [];
  await retry(
    async () => {
      instants.push(clock.now);
      if (instants.length <= failures) throw refused();
    },
    p,
    { random, sleep: clock.sleep },
  );
  return instants;
}

describe('retry policy: exponential backoff with full jitter', () => {
  it('each pause lies in [0, min(cap, base · factor^n)] and never passes the cap, however late the attempt', () => {
    const random = seeded(1);
    for (let n = 0; n < 40; n++) {
      const ceiling = Math.min(1_000, 100 * 2 ** n);
      for (let k = 0; k < 50; k++) {
        const d = delayFor(policy, n, random);
        expect(d).to.be.within(0, ceiling);
        expect(Number.isInteger(d)).to.equal(true);
      }
    }
    expect(delayFor(policy, 10_000, () => 0.999999)).to.equal(999);
    expect(delayFor(policy, 0, () => 0)).to.equal(0);
    expect([0, 1, 2, 3, 4].map((n) => delayFor({ ...policy, jitter: 'none' }, n))).to.deep.equal([100, 200, 400, 800, 1_000]);
  });

  it('retry tries `attempts` times in all, says each pause before it, and stops at once on a failure that is not retryable', async () => {
    const clock = virtualClock();
    const told: [number, number][] = [];
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(refused());
    };
    const err = await retry(failing, policy, {
      random: seeded(2),
      sleep: clock.sleep,
      onRetry: (_e, next, ms) => told.push([next, ms]),
    }).catch((e) => e);
    expect(err.code).to.equal('ECONNREFUSED');
    expect(calls).to.equal(6);
    expect(told.map(([next]) => next)).to.deep.equal([2, 3, 4, 5, 6]);
    expect(clock.now).to.equal(told.reduce((s, [, ms]) => s + ms, 0));

    calls = 0;
    await retry(failing, policy, { sleep: clock.sleep, isRetryable: () => false }).catch(() => undefined);
    expect(calls).to.equal(1);
  });

  it('two workers with the same failure schedule retry at different instants, and many cover the whole window', async () => {
    // The peer fails the first 4 calls of each worker: both retry 4 times.
    const a = await triesOf(seeded(11), 4);
    const b = await triesOf(seeded(12), 4);
    expect(a).to.have.length(5);
    expect(b).to.have.length(5);
    for (let i = 1; i < 5; i++) expect(Math.abs(a[i] - b[i]), `retry ${i}: ${a[i]} vs ${b[i]} ms`).to.be.greaterThan(0);
    // Without jitter they would be in lockstep: 100, 300, 700, 1500 ms after the first call.
    expect(await triesOf(seeded(11), 4, { ...policy, jitter: 'none' })).to.deep.equal(
      await triesOf(seeded(12), 4, { ...policy, jitter: 'none' }),
    );

    // 40 workers: their first retries spread over [0, 100 ms], the fourth over [0, 1500 ms].
    const firsts: number[] = [];
    const fourths: number[] = [];
    for (let w = 0; w < 40; w++) {
      const t = await triesOf(seeded(100 + w), 4);
      firsts.push(t[1]);
      fourths.push(t[4]);
    }
    expect(Math.min(...firsts)).to.be.below(20);
    expect(Math.max(...firsts)).to.be.above(80);
    expect(new Set(firsts).size).to.be.above(30);
    expect(Math.max(...fourths) - Math.min(...fourths)).to.be.above(700);
    for (const t of fourths) expect(t).to.be.within(0, 1_500);
  });
});

describe('every retry loop runs on the one policy, with jitter and the documented ceilings (docs/faults.md)', () => {
  const ceilings = (p: RetryPolicy, n: number) => [...Array(n).keys()].map((i) => delayFor({ ...p, jitter: 'none' }, i));
  const cases: [string, RetryPolicy, number, number[]][] = [
    ['registry unlock (per domain, 4 tries)', retryPolicyOf(UNLOCK_POLICY), 3, [50, 100, 200]],
    ['registry relock (per domain, 5 tries)', retryPolicyOf(RELOCK_POLICY), 4, [100, 200, 400, 800]],
    ['chunk after a transient fault (for ever)', TRANSIENT_RETRY, 7, [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]],
    ['API re-enqueue of a committed job (6 tries)', RE_ENQUEUE_RETRY, 5, [1_000, 2_000, 4_000, 8_000, 16_000]],
    ['a start-up step while Postgres or Redis is away (for ever)', STARTUP_RETRY, 6, [500, 1_000, 2_000, 4_000, 5_000, 5_000]],
    ['a Redis reconnect, workers and the API producer (for ever)', REDIS_RECONNECT, 6, [200, 400, 800, 1_600, 2_000, 2_000]],
    ['a CLI submit with an idempotency key (3 tries)', SUBMIT_RETRY, 2, [2_000, 4_000]],
  ];
  for (const [what, p, n, expected] of cases) {
    it(`${what}: ceilings ${expected.join(', ')} ms, full jitter`, () => {
      expect(p.jitter).to.equal('full');
      expect(ceilings(p, n)).to.deep.equal(expected);
      expect(p.attempts).to.equal(what.includes('for ever') ? Number.POSITIVE_INFINITY : n + 1);
    });
  }
  it('outbox send (attempts counts the failed send): ceilings 2, 4, 8 … s, at most 15 min, for ever', () => {
    expect(OUTBOX_RETRY.jitter).to.equal('full');
    expect([1, 2, 3, 9, 10, 20].map((a) => delayFor({ ...OUTBOX_RETRY, jitter: 'none' }, a) / 1000)).to.deep.equal([
      2, 4, 8, 512, 900, 900,
    ]);
  });
});

describe('circuit breaker', () => {
  const make = (clock: { now: number }) =>
    new CircuitBreaker({
      name: 'peer',
      failures: 3,
      coolDownMs: 1_000,
      isFailure: (e) => e instanceof Error && 'code' in e,
      now: () => clock.now,
    });

  it('opens after N transient failures in a row and then fails fast with a TransientFault, without calling the peer', async () => {
    const clock = { now: 0 };
    const breaker = make(clock);
    let calls = 0;
    const down = () => {
      calls++;
      return Promise.reject(refused());
    };
    for (let i = 0; i < 3; i++) await breaker.run(down).catch(() => undefined);
    expect(breaker.state).to.equal('open');
    const err = await breaker.run(down).catch((e) => e);
    expect(err).to.be.instanceOf(CircuitOpen);
    expect(err).to.be.instanceOf(TransientFault);
    expect(calls).to.equal(3);

    // A refusal is an answer: it does not count, and it ends a run of failures.
    const other = make(clock);
    await other.run(down).catch(() => undefined);
    await other.run(down).catch(() => undefined);
    await other.run(() => Promise.reject(new Error('domain not owned'))).catch(() => undefined);
    await other.run(down).catch(() => undefined);
    expect(other.state).to.equal('closed');
  });

  it('after the cool-down lets one call through (half-open): its failure opens it again, its success closes it', async () => {
    const clock = { now: 0 };
    const breaker = make(clock);
    for (let i = 0; i < 3; i++) await breaker.run(() => Promise.reject(refused())).catch(() => undefined);
    clock.now = 1_000;
    expect(breaker.state).to.equal('half-open');
    await breaker.run(() => Promise.reject(refused())).catch(() => undefined);
    expect(breaker.state).to.equal('open');
    expect(await breaker.run(async () => 'called').catch((e) => e)).to.be.instanceOf(CircuitOpen);

    clock.now = 2_000;
    let release!: () => void;
    const probe = breaker.run(() => new Promise<string>((r) => (release = () => r('probe'))));
    // While the probe is out, every other call still fails fast.
    expect(await breaker.run(async () => 'second').catch((e) => e)).to.be.instanceOf(CircuitOpen);
    release();
    expect(await probe).to.equal('probe');
    expect(breaker.state).to.equal('closed');
    expect(await breaker.run(async () => 'next')).to.equal('next');
  });

  it('around the registry gateway: registryEach stops trying a domain once the circuit is open', async () => {
    let calls = 0;
    const dead: RegistryGateway = {
      unlock: () => {
        calls++;
        return Promise.reject(refused());
      },
      lock: () => Promise.resolve(),
    };
    const registry = new BreakerRegistry(dead, { failures: 3, coolDownMs: 60_000 });
    expect(registry.unlockMany).to.equal(undefined);
    const clock = virtualClock();
    const names = ['a.example', 'b.example', 'c.example', 'd.example'];
    const results = await registryEach(registry, 'unlock', names, { parallelism: 1, attempts: 4, backoffMs: 10 }, { sleep: clock.sleep });
    // a.example used its 3 tries' worth of failures and opened the circuit on its 3rd; the rest fail fast.
    expect(calls).to.equal(3);
    expect(results.every((r) => r.status === 'rejected')).to.equal(true);
    expect(results.slice(1).map((r) => (r as PromiseRejectedResult).reason)).to.satisfy((es: unknown[]) =>
      es.every((e) => e instanceof CircuitOpen),
    );
    expect(registry.breaker.state).to.equal('open');
  });
});

describe('the leftover loops run on the one policy: start-up steps, Redis reconnects, the CLI submit', () => {
  it('a start-up step is tried again after each transient fault, one log line per try, pauses within the ceilings', async () => {
    const clock = virtualClock();
    const pauses: number[] = [];
    const lines: { attempt: number; retry_in_ms: number }[] = [];
    let calls = 0;
    const value = await untilNoTransientFault(
      { warn: (o: object) => void lines.push(o as { attempt: number; retry_in_ms: number }) },
      'migrating',
      async () => {
        if (++calls <= 4) throw refused();
        return 'migrated';
      },
      {
        random: seeded(3),
        sleep: (ms) => {
          pauses.push(ms);
          return clock.sleep(ms);
        },
      },
    );
    expect(value).to.equal('migrated');
    expect(calls).to.equal(5);
    expect(lines.map((l) => l.attempt)).to.deep.equal([1, 2, 3, 4]);
    expect(lines.map((l) => l.retry_in_ms)).to.deep.equal(pauses);
    for (const [i, ceiling] of [500, 1_000, 2_000, 4_000].entries()) expect(pauses[i]).to.be.within(0, ceiling);
  });

  it('a start-up step that fails for another reason is thrown at once, without a pause', async () => {
    let calls = 0;
    const err = await untilNoTransientFault({ warn: () => undefined }, 'migrating', async () => {
      calls++;
      throw new Error('relation "x" does not exist');
    }).catch((e) => e);
    expect(err.message).to.equal('relation "x" does not exist');
    expect(calls).to.equal(1);
  });

  it("two start-up steps that met the same outage pause differently (ioredis's and the old linear loops did not)", async () => {
    const pausesOf = async (seed: number) => {
      const pauses: number[] = [];
      let calls = 0;
      await untilNoTransientFault(
        { warn: () => undefined },
        'x',
        async () => {
          if (++calls <= 3) throw refused();
        },
        { random: seeded(seed), sleep: async (ms) => void pauses.push(ms) },
      );
      return pauses;
    };
    expect(await pausesOf(21)).not.to.deep.equal(await pausesOf(22));
  });

  it('a Redis reconnect waits a jittered pause within 200 ms · 2^n, never past 2 s', () => {
    for (const [times, ceiling] of [
      [1, 200],
      [2, 400],
      [4, 1_600],
      [5, 2_000],
      [500, 2_000],
    ]) {
      const draws = [...Array(200)].map(() => reconnectDelay(times));
      for (const d of draws) expect(d).to.be.within(0, ceiling);
      expect(new Set(draws).size, `reconnect ${times}: the pauses spread`).to.be.above(10);
    }
  });

  it('the CLI retries an unreachable submit only with an idempotency key, on SUBMIT_RETRY', async () => {
    // A loopback port nothing listens on: every try is refused at once.
    const api = new ApiClient({ url: 'http://127.0.0.1:9', apiKey: 'k' });
    const clock = virtualClock();
    const told: [number, number][] = [];
    const withKey = await submitWithRetry(api, '/v1/bulk-pushes', {}, 'key-1', {
      random: seeded(4),
      sleep: clock.sleep,
      onRetry: (_e, next, ms) => told.push([next, ms]),
    }).catch((e) => e);
    expect(withKey).to.be.instanceOf(CliError);
    expect(withKey.exitCode).to.equal(EXIT.unreachable);
    expect(told.map(([next]) => next)).to.deep.equal([2, 3]);
    expect(told[0][1]).to.be.within(0, 2_000);
    expect(told[1][1]).to.be.within(0, 4_000);

    const toldWithout: number[] = [];
    const without = await submitWithRetry(api, '/v1/bulk-pushes', {}, undefined, {
      sleep: clock.sleep,
      onRetry: (_e, next) => toldWithout.push(next),
    }).catch((e) => e);
    expect(without.exitCode).to.equal(EXIT.unreachable);
    expect(toldWithout).to.deep.equal([]);
  });
});
