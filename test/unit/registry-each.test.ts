import { expect } from 'chai';
import { registryEach, type RegistryGateway } from '../../shared/catalog/registry';

/** The registry is the one part we cannot run: an in-memory stand-in whose bulk call can fail as a whole. */
function bulkRegistry(script: (call: number, names: string[]) => Map<string, Error>) {
  const calls: string[][] = [];
  const registry: RegistryGateway = {
    unlock: () => Promise.reject(new Error('per-domain call used')),
    lock: () => Promise.reject(new Error('per-domain call used')),
    unlockMany: async (names) => {
      calls.push(names);
      return script(calls.length, names);
    },
  };
  return { registry, calls };
}

const policy = { parallelism: 4, attempts: 3, backoffMs: 1 };
const outcome = (r: PromiseSettledResult<void>[]) => r.map((x) => (x.status === 'fulfilled' ? 'ok' : (x.reason as Error).message));

describe('registryEach: one registry operation over many domains', () => {
  it('a bulk call that fails as a whole is tried again for every domain, and its error is each domain’s when it never succeeds', async () => {
    const flaky = bulkRegistry((call) => {
      if (call === 1) throw new Error('registry unreachable');
      return new Map();
    });
    expect(outcome(await registryEach(flaky.registry, 'unlock', ['a.example', 'b.example'], policy))).to.deep.equal(['ok', 'ok']);
    expect(flaky.calls).to.deep.equal([
      ['a.example', 'b.example'],
      ['a.example', 'b.example'],
    ]);

    const down = bulkRegistry(() => {
      throw new Error('registry unreachable');
    });
    expect(outcome(await registryEach(down.registry, 'unlock', ['a.example', 'b.example'], policy))).to.deep.equal([
      'registry unreachable',
      'registry unreachable',
    ]);
    expect(down.calls).to.have.length(3);
  });

  it('a later try of a bulk call carries only the domains still refused', async () => {
    const { registry, calls } = bulkRegistry(
      (call, names) => new Map(call < 3 && names.includes('b.example') ? [['b.example', new Error('busy')]] : []),
    );
    expect(outcome(await registryEach(registry, 'unlock', ['a.example', 'b.example', 'c.example'], policy))).to.deep.equal([
      'ok',
      'ok',
      'ok',
    ]);
    expect(calls).to.deep.equal([['a.example', 'b.example', 'c.example'], ['b.example'], ['b.example']]);
  });

  it('without a bulk form, each domain gets its own calls, tried again on its own', async () => {
    const tries = new Map<string, number>();
    const registry: RegistryGateway = {
      unlock: async () => undefined,
      lock: async (name) => {
        const n = (tries.get(name) ?? 0) + 1;
        tries.set(name, n);
        if (name === 'never.example' || n < 2) throw new Error(`refused ${name}`);
      },
    };
    expect(outcome(await registryEach(registry, 'lock', ['x.example', 'never.example'], policy))).to.deep.equal([
      'ok',
      'refused never.example',
    ]);
    expect(Object.fromEntries(tries)).to.deep.equal({ 'x.example': 2, 'never.example': 3 });
  });
});
