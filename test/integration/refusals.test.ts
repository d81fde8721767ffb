import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Response } from 'supertest';
import { createApp } from '../../api/app';
import { loadConfig } from '../../shared/platform/config';
import { createRuntime, type Runtime } from '../../app/runtime';
import {
  authorize,
  bodyOf,
  importDomains,
  makeReseller,
  snapshot,
  submit,
  waitForJob,
  type JobView,
  type Page,
  type TestReseller,
} from '../helpers/fixtures';
import { checkedRequest, serveChecked } from '../helpers/conformance';
import { relayRuns } from '../helpers/resilience';
import { ScriptedRegistry } from '../helpers/registry';
import { createTestDb, type TestDb } from '../helpers/db';
import { startSmtp, type SmtpPeer } from '../helpers/smtp';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/** The spec's error shape, with the status and code the caller can act on and a message a human can read. */
function expectError(res: Response, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.body).to.have.property('error');
  expect(res.body.error.code, JSON.stringify(res.body)).to.equal(code);
  expect(res.body.error.message).to.be.a('string').and.not.equal('');
  return res.body.error as ApiError;
}

/** The spec's error body; `details` differs per code, so each test reads the part it knows. */
interface ApiError {
  code: string;
  message: string;
  details?: {
    fields?: { path: string }[];
    invalid?: { position: number; value: string; reason: string }[];
    [key: string]: unknown;
  };
}

function fieldPaths(error: ApiError): string[] {
  return (error.details?.fields ?? []).map((f) => f.path);
}

describe('refused requests: a clear error, and nothing changes', () => {
  let sys: TestSystem;
  let registry: ScriptedRegistry;
  let losing: TestReseller;
  let gaining: TestReseller;
  let losingOff: TestReseller;
  let gainingOff: TestReseller;
  let outsider: TestReseller;
  let emptyHanded: TestReseller;
  let finishedJobId: string;

  const profile = { domain: 'gp-home.example', username: 'gp-user', password: 'gp-correct-password' };

  before(async () => {
    sys = await startSystem({ config: { MAX_DOMAINS_PER_JOB: 5 }, registry: (db) => (registry = new ScriptedRegistry(db)) });
    losing = await makeReseller(sys, 'losing');
    gaining = await makeReseller(sys, 'gaining');
    losingOff = await makeReseller(sys, 'losing-off', { push: false });
    gainingOff = await makeReseller(sys, 'gaining-off', { push: false });
    await makeReseller(sys, 'stranger'); // has authorized nobody
    outsider = await makeReseller(sys, 'outsider');
    emptyHanded = await makeReseller(sys, 'empty-handed');
    // Every refusal below has exactly one thing wrong: the other rules are satisfied.
    await authorize(sys, gaining, losing);
    await authorize(sys, gaining, losingOff);
    await authorize(sys, gainingOff, losing);
    await authorize(sys, gaining, emptyHanded);
    await authorize(sys, gaining, outsider);
    const p = await sys.http().post('/v1/profiles').set('Authorization', `Bearer ${gaining.key}`).send(profile);
    expect(p.status, JSON.stringify(p.body)).to.equal(201);
    await importDomains(sys, [
      ...['r-1.example', 'r-2.example', 'r-3.example', 'r-4.example', 'r-5.example'].map((name) => ({ name, reseller: 'losing' })),
      { name: 'r-locked.example', reseller: 'losing', locked: true },
      { name: 'r-slow.example', reseller: 'losing', locked: true },
      { name: 'off-1.example', reseller: 'losing-off' },
      { name: 'out-1.example', reseller: 'outsider' },
    ]);
    // A job that has ended, for the control refusals; no results email (null: not even to the
    // account email), so no email is ever expected in this file.
    const done = await submit(sys, losing, { gaining_reseller: 'gaining', domains: ['r-1.example'], email_results_to: null });
    expect(done.status, JSON.stringify(done.body)).to.equal(202);
    finishedJobId = done.body.id;
    expect((await waitForJob(sys, losing, finishedJobId)).status).to.equal('completed');
  });
  after(() => sys?.stop());

  /** Asserts the refusal and that no job, item, domain, email, billing event, profile, brand or queued work changed. */
  async function refused(send: () => Promise<Response>, status: number, code: string) {
    const before = await snapshot(sys);
    const mailsBefore = sys.smtp.messages.length;
    const res = await send();
    const error = expectError(res, status, code);
    expect(await snapshot(sys)).to.deep.equal(before);
    expect(sys.smtp.messages.length).to.equal(mailsBefore);
    return error;
  }

  const refusedSubmit = (
    who: TestReseller,
    body: Record<string, unknown>,
    status: number,
    code: string,
    headers: Record<string, string> = {},
  ) => refused(() => submit(sys, who, body, headers), status, code);

  // No results email for the jobs this file does create (see before()).
  const valid = (extra: Record<string, unknown> = {}) => ({
    gaining_reseller: 'gaining',
    domains: ['r-2.example'],
    email_results_to: null,
    ...extra,
  });

  describe('authentication', () => {
    it('a submit without an API key is refused with 401 unauthorized', async () => {
      await refused(() => sys.http().post('/v1/bulk-pushes').send(valid()), 401, 'unauthorized');
    });

    it('a submit with an unknown API key is refused with 401 unauthorized', async () => {
      await refused(
        () => sys.http().post('/v1/bulk-pushes').set('Authorization', 'Bearer dpk_not-a-real-key').send(valid()),
        401,
        'unauthorized',
      );
    });

    it('a malformed Authorization header is refused with 401 unauthorized', async () => {
      await refused(() => sys.http().post('/v1/bulk-pushes').set('Authorization', losing.key).send(valid()), 401, 'unauthorized');
    });

    it('an operator endpoint without a key is refused with 401 and imports nothing', async () => {
      await refused(
        () =>
          sys
            .http()
            .post('/v1/admin/domains/import')
            .send([{ name: 'sneaky.example', reseller: 'losing' }]),
        401,
        'unauthorized',
      );
      expect(await sys.db('domains').where({ name: 'sneaky.example' }).first()).to.equal(undefined);
    });

    it('an operator endpoint with an invalid key is refused with 401 and imports nothing', async () => {
      await refused(
        () =>
          sys
            .http()
            .post('/v1/admin/domains/import')
            .set('Authorization', 'Bearer not-the-operator-key')
            .send([{ name: 'sneaky.example', reseller: 'losing' }]),
        401,
        'unauthorized',
      );
      expect(await sys.db('domains').where({ name: 'sneaky.example' }).first()).to.equal(undefined);
    });

    it('a reseller key on an operator endpoint is refused: a reseller cannot enable its own push feature or import domains', async () => {
      await refused(
        () =>
          sys
            .http()
            .patch('/v1/admin/resellers/losing-off')
            .set('Authorization', `Bearer ${losingOff.key}`)
            .send({ domain_push_enabled: true }),
        401,
        'unauthorized',
      );
      expect((await sys.db('resellers').where({ username: 'losing-off' }).first('domain_push_enabled')).domain_push_enabled).to.equal(
        false,
      );
      await refused(
        () =>
          sys
            .http()
            .post('/v1/admin/domains/import')
            .set('Authorization', `Bearer ${losing.key}`)
            .send([{ name: 'sneaky.example', reseller: 'losing' }]),
        401,
        'unauthorized',
      );
      expect((await sys.http().get('/v1/admin/resellers').set('Authorization', `Bearer ${losing.key}`)).status).to.equal(401);
    });

    it('the operator key on a reseller endpoint is refused with 401: the operator acts for no reseller', async () => {
      await refused(
        () => sys.http().post('/v1/bulk-pushes').set('Authorization', `Bearer ${OPERATOR_KEY}`).send(valid()),
        401,
        'unauthorized',
      );
      expectError(await sys.http().get('/v1/me').set('Authorization', `Bearer ${OPERATOR_KEY}`), 401, 'unauthorized');
    });
  });

  describe('who may push to whom', () => {
    it('when push is disabled for the losing reseller, the submit is refused with 403 feature_disabled', async () => {
      const e = await refusedSubmit(losingOff, { gaining_reseller: 'gaining', domains: ['off-1.example'] }, 403, 'feature_disabled');
      expect(e.message).to.match(/not enabled/);
    });

    it('when push is disabled for the gaining reseller, the submit is refused with 403 feature_disabled naming it', async () => {
      const e = await refusedSubmit(losing, valid({ gaining_reseller: 'gaining-off' }), 403, 'feature_disabled');
      expect(e.message).to.include('gaining-off');
    });

    it('when the gaining reseller does not exist, the submit is refused with 422 unknown_reseller', async () => {
      const e = await refusedSubmit(losing, valid({ gaining_reseller: 'nobody-here' }), 422, 'unknown_reseller');
      expect(e.message).to.include('nobody-here');
    });

    it('when the gaining reseller has not authorized the losing one, the submit is refused with 403 not_authorized and says how to fix it', async () => {
      const e = await refusedSubmit(losing, valid({ gaining_reseller: 'stranger' }), 403, 'not_authorized');
      expect(e.message).to.include(losing.company_id);
    });

    it('an authorization given the other way round does not count: gaining authorized losing, not the reverse', async () => {
      await refusedSubmit(gaining, { gaining_reseller: 'losing', domains: ['r-2.example'] }, 403, 'not_authorized');
    });

    it('a push to oneself is refused with 400 invalid_request, whatever the case of the name', async () => {
      await refusedSubmit(losing, valid({ gaining_reseller: 'losing' }), 400, 'invalid_request');
      await refusedSubmit(losing, valid({ gaining_reseller: ' LOSING ' }), 400, 'invalid_request');
    });
  });

  describe('the list of domains', () => {
    it('an empty domains array is refused with 400 invalid_request', async () => {
      const e = await refusedSubmit(losing, valid({ domains: [] }), 400, 'invalid_request');
      expect(e.message).to.match(/empty/);
    });

    it('an empty or blank domain_list is refused with 400 invalid_request', async () => {
      await refusedSubmit(losing, { gaining_reseller: 'gaining', domain_list: '' }, 400, 'invalid_request');
      await refusedSubmit(losing, { gaining_reseller: 'gaining', domain_list: ' \n , \r\n' }, 400, 'invalid_request');
    });

    it('all_domains from a reseller holding no domains is refused with 400 invalid_request', async () => {
      const e = await refusedSubmit(emptyHanded, { gaining_reseller: 'gaining', all_domains: true }, 400, 'invalid_request');
      expect(e.message).to.match(/empty/);
    });

    it('naming no list at all, or two lists at once, is refused with 400 invalid_request', async () => {
      await refusedSubmit(losing, { gaining_reseller: 'gaining' }, 400, 'invalid_request');
      await refusedSubmit(losing, { gaining_reseller: 'gaining', all_domains: false }, 400, 'invalid_request');
      await refusedSubmit(
        losing,
        { gaining_reseller: 'gaining', domains: ['r-2.example'], domain_list: 'r-3.example' },
        400,
        'invalid_request',
      );
      await refusedSubmit(losing, { gaining_reseller: 'gaining', domains: ['r-2.example'], all_domains: true }, 400, 'invalid_request');
    });

    it('more domains than MAX_DOMAINS_PER_JOB (5 here) is refused with 400 too_many_domains, giving the maximum', async () => {
      const six = ['a-1.example', 'a-2.example', 'a-3.example', 'a-4.example', 'a-5.example', 'a-6.example'];
      const e = await refusedSubmit(losing, valid({ domains: six }), 400, 'too_many_domains');
      expect(e.details).to.include({ max: 5, given: 6 });
      await refusedSubmit(losing, { gaining_reseller: 'gaining', domain_list: six.join('\n') }, 400, 'too_many_domains');
      const huge = Array.from({ length: 500 }, (_, i) => `h-${i}.example`);
      await refusedSubmit(losing, valid({ domains: huge }), 400, 'too_many_domains');
    });

    it('all_domains from a reseller holding more than the maximum is refused with too_many_domains', async () => {
      // losing still holds six domains here (r-1 has moved away): more than 5.
      await refusedSubmit(losing, { gaining_reseller: 'gaining', all_domains: true }, 400, 'too_many_domains');
    });

    it('invalid domain names are refused with 400 invalid_domains, listing each bad entry with its 1-based position', async () => {
      const e = await refusedSubmit(
        losing,
        valid({ domains: ['r-2.example', 'bad..name', '-x.com', 'nodot', 'a b.com'] }),
        400,
        'invalid_domains',
      );
      expect(e.details!.invalid!.map((i) => [i.position, i.value])).to.deep.equal([
        [2, 'bad..name'],
        [3, '-x.com'],
        [4, 'nodot'],
        [5, 'a b.com'],
      ]);
      for (const i of e.details!.invalid!) expect(i.reason).to.be.a('string').and.not.equal('');
    });

    it('invalid names in a domain_list are listed with their position in the list', async () => {
      const e = await refusedSubmit(
        losing,
        { gaining_reseller: 'gaining', domain_list: 'r-2.example\nbad..name, r-3.example\n-x.com' },
        400,
        'invalid_domains',
      );
      expect(e.details!.invalid!.map((i) => [i.position, i.value])).to.deep.equal([
        [2, 'bad..name'],
        [4, '-x.com'],
      ]);
    });

    it('one bad name refuses the whole request: the good names around it are not pushed', async () => {
      await refusedSubmit(losing, valid({ domains: ['r-2.example', 'r-3.example', 'x..y'] }), 400, 'invalid_domains');
      const owners = await sys
        .db('domains as d')
        .join('resellers as r', 'r.id', 'd.reseller_id')
        .whereIn('d.name', ['r-2.example', 'r-3.example'])
        .pluck('r.username');
      expect(owners).to.deep.equal(['losing', 'losing']);
    });
  });

  describe('existing-profile credentials', () => {
    const wrong = {
      domain: { ...profile, domain: 'not-the-profile.example' },
      username: { ...profile, username: 'not-the-user' },
      password: { ...profile, password: 'not-the-password' },
    };

    it('the right credentials pass every check (dry run), so each refusal below is about one wrong field only', async () => {
      const before = await snapshot(sys);
      const res = await submit(sys, losing, valid({ profile: { mode: 'existing', ...profile }, dry_run: true }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(await snapshot(sys)).to.deep.equal(before);
    });

    type Field = keyof typeof wrong;
    const errors: Partial<Record<Field, { message: string; details?: unknown }>> = {};
    const refusedCredentials = async (field: Field) => {
      const e = await refusedSubmit(losing, valid({ profile: { mode: 'existing', ...wrong[field] } }), 422, 'invalid_profile_credentials');
      errors[field] = { message: e.message, details: e.details };
      return e;
    };
    /** The refusal for one wrong field, as recorded by its test, or made now when that test did not run. */
    const errorFor = async (field: Field) => errors[field] ?? (await refusedCredentials(field));

    for (const field of ['domain', 'username', 'password'] as const) {
      it(`a wrong profile ${field} is refused with 422 invalid_profile_credentials`, async () => {
        const e = await refusedCredentials(field);
        expect(e.message).to.not.include(wrong[field][field]);
      });
    }

    it('the three refusals are identical, so the answer never tells which of domain, username or password was wrong', async () => {
      for (const field of ['domain', 'username', 'password'] as const) await errorFor(field);
      expect(Object.keys(errors)).to.have.members(['domain', 'username', 'password']);
      expect(errors.username).to.deep.equal(errors.domain);
      expect(errors.password).to.deep.equal(errors.domain);
    });

    it('a bad list with a wrong password is refused for its list (400 invalid_domains): the password is checked beside the list, answered after it', async () => {
      await refusedSubmit(
        losing,
        valid({ domains: ['r-2.example', 'x..y'], profile: { mode: 'existing', ...wrong.password } }),
        400,
        'invalid_domains',
      );
      // And the right password with a bad list: the list's refusal too, nothing created (refusedSubmit compares the snapshot).
      await refusedSubmit(losing, valid({ domains: ['x..y'], profile: { mode: 'existing', ...profile } }), 400, 'invalid_domains');
    });

    it('a profile of the losing reseller (not the gaining one) is refused the same way', async () => {
      const own = { domain: 'lp-home.example', username: 'lp-user', password: 'lp-correct-password' };
      const p = await sys.http().post('/v1/profiles').set('Authorization', `Bearer ${losing.key}`).send(own);
      expect(p.status).to.equal(201);
      const e = await refusedSubmit(losing, valid({ profile: { mode: 'existing', ...own } }), 422, 'invalid_profile_credentials');
      expect(e.message).to.equal((await errorFor('domain')).message);
    });

    it('an existing profile without its password is refused with 400 invalid_request naming the missing field', async () => {
      const e = await refusedSubmit(
        losing,
        valid({ profile: { mode: 'existing', domain: profile.domain, username: profile.username } }),
        400,
        'invalid_request',
      );
      expect(fieldPaths(e)).to.include('body.profile.password');
    });
  });

  describe('the request body', () => {
    it('a bad email_results_to is refused with 400 invalid_request naming the field', async () => {
      for (const address of ['not-an-address', 'ops@', '@losing.example', 'ops@losing example.com']) {
        const e = await refusedSubmit(losing, valid({ email_results_to: address }), 400, 'invalid_request');
        expect(fieldPaths(e), address).to.deep.equal(['body.email_results_to']);
      }
    });

    it('an unknown top-level field is refused with 400 invalid_request, the details naming its path', async () => {
      const e = await refusedSubmit(losing, valid({ colour: 'blue' }), 400, 'invalid_request');
      expect(fieldPaths(e)).to.deep.equal(['body.colour']);
      expect(e.message).to.include('colour');
    });

    it('an unknown field inside profile is refused with its full path', async () => {
      const e = await refusedSubmit(losing, valid({ profile: { mode: 'new', nickname: 'x' } }), 400, 'invalid_request');
      expect(fieldPaths(e)).to.deep.equal(['body.profile.nickname']);
    });

    it('several unknown fields are each named', async () => {
      const e = await refusedSubmit(losing, valid({ colour: 'blue', size: 3 }), 400, 'invalid_request');
      expect(fieldPaths(e)).to.have.members(['body.colour', 'body.size']);
    });

    it('wrong types are refused with 400 invalid_request, one path per bad field', async () => {
      const e = await refusedSubmit(
        losing,
        { gaining_reseller: 42, domains: ['r-2.example', 7], apply_to_locked: 'yes', dry_run: 'no' },
        400,
        'invalid_request',
      );
      expect(fieldPaths(e)).to.include.members(['body.gaining_reseller', 'body.domains.1', 'body.apply_to_locked', 'body.dry_run']);
    });

    it('domains given as a string instead of a list is refused with the field path', async () => {
      const e = await refusedSubmit(losing, { gaining_reseller: 'gaining', domains: 'r-2.example' }, 400, 'invalid_request');
      expect(fieldPaths(e)).to.include('body.domains');
    });

    it('an unknown profile mode is refused with the field path', async () => {
      const e = await refusedSubmit(losing, valid({ profile: { mode: 'borrowed' } }), 400, 'invalid_request');
      expect(fieldPaths(e)).to.include('body.profile.mode');
    });

    it('a body that is not an object (a JSON array) is refused with 400 invalid_request', async () => {
      await refusedSubmit(losing, ['r-2.example'] as unknown as Record<string, unknown>, 400, 'invalid_request');
    });

    it('malformed JSON is refused with 400 invalid_request', async () => {
      const e = await refused(
        () =>
          sys
            .http()
            .post('/v1/bulk-pushes')
            .set('Authorization', `Bearer ${losing.key}`)
            .set('Content-Type', 'application/json')
            .send('{"gaining_reseller": "gaining", "domains": ["r-2.example"'),
        400,
        'invalid_request',
      );
      expect(fieldPaths(e)).to.deep.equal(['body']);
    });
  });

  describe('controlling a job', () => {
    it('cancelling a finished job is refused with 409 job_finished, and the job stays completed', async () => {
      await refused(
        () => sys.http().post(`/v1/bulk-pushes/${finishedJobId}/cancel`).set('Authorization', `Bearer ${losing.key}`),
        409,
        'job_finished',
      );
      await refused(
        () => sys.http().post(`/v1/jobs/${finishedJobId}/cancel`).set('Authorization', `Bearer ${losing.key}`),
        409,
        'job_finished',
      );
      expect((await sys.db('bulk_jobs').where({ id: finishedJobId }).first('status')).status).to.equal('completed');
    });

    it('suspending a finished job is refused with 409 invalid_state', async () => {
      await refused(
        () => sys.http().post(`/v1/bulk-pushes/${finishedJobId}/suspend`).set('Authorization', `Bearer ${losing.key}`),
        409,
        'invalid_state',
      );
      expect((await sys.db('bulk_jobs').where({ id: finishedJobId }).first('status')).status).to.equal('completed');
    });

    it('resuming a finished job is refused with 409 invalid_state', async () => {
      await refused(
        () => sys.http().post(`/v1/bulk-pushes/${finishedJobId}/resume`).set('Authorization', `Bearer ${losing.key}`),
        409,
        'invalid_state',
      );
    });

    it('resuming a queued job (never suspended) is refused with 409 invalid_state and it stays queued', async () => {
      await sys.stopWorker();
      try {
        const res = await submit(sys, losing, valid({ domains: ['r-3.example'] }));
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
        const id = res.body.id;
        await refused(
          () => sys.http().post(`/v1/bulk-pushes/${id}/resume`).set('Authorization', `Bearer ${losing.key}`),
          409,
          'invalid_state',
        );
        const row = await sys.db('bulk_jobs').where({ id }).first('status', 'generation');
        expect(row).to.deep.include({ status: 'queued' });
        const cancel = await sys.http().post(`/v1/bulk-pushes/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
        expect(cancel.status).to.equal(202);
        expect(cancel.body.status).to.equal('cancelled');
        // Once cancelled it has ended, so a second cancel is refused too.
        await refused(
          () => sys.http().post(`/v1/bulk-pushes/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`),
          409,
          'job_finished',
        );
      } finally {
        await sys.startWorker();
      }
    });

    it('resuming a running job is refused with 409 invalid_state and the job runs on to the end', async () => {
      registry.delayMs = 1500; // unlock and relock of the locked domain keep the job running for a while
      try {
        const res = await submit(sys, losing, valid({ domains: ['r-slow.example'], apply_to_locked: true }));
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
        const id = res.body.id;
        await waitForJob(sys, losing, id, ['running']);
        const e = await sys.http().post(`/v1/bulk-pushes/${id}/resume`).set('Authorization', `Bearer ${losing.key}`);
        expectError(e, 409, 'invalid_state');
        const job = await waitForJob(sys, losing, id);
        expect(job.status).to.equal('completed');
        expect(job.counts.pushed).to.equal(1);
      } finally {
        registry.delayMs = 0;
      }
    });
  });

  describe("another reseller's job", () => {
    const missing = '00000000-0000-4000-8000-000000000000';

    async function asOutsider(method: 'get' | 'post', path: string) {
      return sys.http()[method](path).set('Authorization', `Bearer ${outsider.key}`);
    }

    it('is 404 on GET, items (JSON and CSV), events, cancel, suspend and resume, exactly like a job that does not exist', async () => {
      const paths: ['get' | 'post', string][] = [
        ['get', ''],
        ['get', '/items'],
        ['get', '/events'],
        ['post', '/cancel'],
        ['post', '/suspend'],
        ['post', '/resume'],
      ];
      for (const base of ['/v1/bulk-pushes', '/v1/jobs']) {
        for (const [method, suffix] of paths) {
          const theirs = await refused(() => asOutsider(method, `${base}/${finishedJobId}${suffix}`), 404, 'not_found');
          const nobodys = await refused(() => asOutsider(method, `${base}/${missing}${suffix}`), 404, 'not_found');
          expect(theirs, `${method} ${base}/:id${suffix}`).to.deep.equal(nobodys);
        }
      }
      await refused(
        () =>
          sys.http().get(`/v1/bulk-pushes/${finishedJobId}/items`).set('Authorization', `Bearer ${outsider.key}`).set('Accept', 'text/csv'),
        404,
        'not_found',
      );
    });

    it('its id does not appear in the other reseller’s job list', async () => {
      const res = await sys.http().get('/v1/bulk-pushes').set('Authorization', `Bearer ${outsider.key}`);
      expect(res.status).to.equal(200);
      expect(bodyOf<Page<JobView>>(res).items.map((j) => j.id)).to.not.include(finishedJobId);
    });

    it('the gaining reseller may look at a job pushed to it but not cancel it (404)', async () => {
      const res = await submit(sys, losing, valid({ domains: ['r-locked.example'] }));
      expect(res.status).to.equal(202);
      await waitForJob(sys, losing, res.body.id);
      expect((await sys.http().get(`/v1/bulk-pushes/${res.body.id}`).set('Authorization', `Bearer ${gaining.key}`)).status).to.equal(200);
      await refused(
        () => sys.http().post(`/v1/bulk-pushes/${res.body.id}/cancel`).set('Authorization', `Bearer ${gaining.key}`),
        404,
        'not_found',
      );
    });

    it('a malformed job id is 404, not a server error', async () => {
      await refused(() => sys.http().get('/v1/bulk-pushes/not-a-uuid').set('Authorization', `Bearer ${losing.key}`), 404, 'not_found');
      await refused(() => sys.http().post("/v1/jobs/1'%20or%201=1/cancel").set('Authorization', `Bearer ${losing.key}`), 404, 'not_found');
    });
  });

  describe('Idempotency-Key', () => {
    it('the same key with the same body returns the same job (200); with another body it is refused with 409 idempotency_conflict', async () => {
      const body = valid({ domains: ['r-locked.example'] });
      const first = await submit(sys, losing, body, { 'Idempotency-Key': 'refusal-key-1' });
      expect(first.status, JSON.stringify(first.body)).to.equal(202);
      await waitForJob(sys, losing, first.body.id);

      const before = await snapshot(sys);
      const replay = await submit(sys, losing, body, { 'Idempotency-Key': 'refusal-key-1' });
      expect(replay.status, JSON.stringify(replay.body)).to.equal(200);
      expect(replay.body.id).to.equal(first.body.id);
      expect(await snapshot(sys)).to.deep.equal(before);

      await refusedSubmit(losing, valid({ domains: ['r-4.example'] }), 409, 'idempotency_conflict', { 'Idempotency-Key': 'refusal-key-1' });
      await refusedSubmit(losing, { ...body, apply_to_locked: true }, 409, 'idempotency_conflict', { 'Idempotency-Key': 'refusal-key-1' });
      expect(Number((await sys.db('bulk_jobs').where({ idempotency_key: 'refusal-key-1' }).count('* as n').first())!.n)).to.equal(1);
    });
  });

  describe('routes', () => {
    it('an unknown route is 404 with the error shape, with or without a key', async () => {
      const e = await refused(() => sys.http().get('/v1/nothing-here'), 404, 'not_found');
      expect(
        Object.keys(
          await sys
            .http()
            .get('/v1/nothing-here')
            .then((r) => r.body),
        ),
      ).to.deep.equal(['error']);
      expect(e.message).to.include('/v1/nothing-here');
      await refused(
        () => sys.http().post('/v1/bulk-pushes/x/explode').set('Authorization', `Bearer ${losing.key}`).send({}),
        404,
        'not_found',
      );
      await refused(() => sys.http().delete('/v1/bulk-pushes').set('Authorization', `Bearer ${losing.key}`), 404, 'not_found');
    });
  });

  // Runs after every refusal above (mocha runs nested suites in order).
  describe('afterwards', () => {
    it('no refused request sent an email or left one in the outbox', async () => {
      // A refusal of its own that names a results address, so this test can fail when run alone.
      await refusedSubmit(losing, valid({ gaining_reseller: 'stranger', email_results_to: 'ops@losing.example' }), 403, 'not_authorized');
      await relayRuns(sys);
      expect(sys.smtp.messages.map((m) => m.subject)).to.deep.equal([]);
      expect(Number((await sys.db('outbound_emails').count('* as n').first())!.n)).to.equal(0);
    });
  });
});

describe('refused when Redis is unavailable', () => {
  // startSystem cannot be used: its stop() deletes the system's Redis keys over a connection that
  // waits for Redis forever. The same parts are put together here, with Redis on a closed port.
  let testDb: TestDb;
  let smtp: SmtpPeer;
  let rt: Runtime;
  let server: Server;
  let sys: TestSystem;

  before(async () => {
    testDb = await createTestDb();
    smtp = await startSmtp();
    const config = loadConfig(
      {},
      {
        DATABASE_URL: testDb.url,
        REDIS_URL: 'redis://127.0.0.1:1',
        SMTP_URL: smtp.url,
        ADMIN_API_KEY: OPERATOR_KEY,
        QUEUE_PREFIX: `{dptest-noredis-${process.pid}}`,
        LOG_LEVEL: 'silent',
        CHUNK_SIZE: 100,
      },
    );
    rt = await createRuntime(config, { role: 'test', db: testDb.db });
    server = serveChecked(createApp(rt.deps), rt.deps);
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Only what the fixtures use (http and db); nothing here may touch the queue.
    sys = { http: () => checkedRequest(url), db: testDb.db, config: rt.deps.config, rt, smtp } as unknown as TestSystem;
  });
  after(async () => {
    if (server) {
      await new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      });
    }
    await rt?.close();
    await smtp?.close();
    await testDb?.drop();
  });

  async function tables() {
    const out: Record<string, unknown> = {};
    for (const t of ['bulk_jobs', 'bulk_job_items', 'domains', 'outbound_emails', 'billing_events', 'profiles', 'brands']) {
      out[t] = await testDb.db(t).orderBy('id').select();
    }
    return out;
  }

  it('a submit is refused with 503 queue_unavailable and nothing is written to Postgres', async () => {
    const losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
    await importDomains(sys, [
      { name: 'q-1.example', reseller: 'losing' },
      { name: 'q-2.example', reseller: 'losing', locked: true },
    ]);

    const before = await tables();
    const res = await submit(
      sys,
      losing,
      { gaining_reseller: 'gaining', domains: ['q-1.example', 'q-2.example'], email_results_to: 'ops@losing.example' },
      { 'Idempotency-Key': 'noredis-1' },
    );
    expectError(res, 503, 'queue_unavailable');
    expect(await tables()).to.deep.equal(before);
    expect(smtp.messages).to.deep.equal([]);

    // Checks that come before the queue still answer with their own errors.
    expectError(await submit(sys, losing, { gaining_reseller: 'gaining', domains: ['bad..name'] }), 400, 'invalid_domains');
  });
});
