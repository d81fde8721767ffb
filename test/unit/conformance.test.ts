import { spawnSync } from 'node:child_process';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { checkedRequest, ConformanceError, DocumentChecker, serveChecked, takeMismatches } from '../helpers/conformance';
import { THINGS_DOC, thingsApp } from './fixtures/conformance-doc';

/** The helper that holds every answer of the integration suite to the OpenAPI document. */
describe('conformance helper: answers against the OpenAPI document', () => {
  const checker = new DocumentChecker(THINGS_DOC);
  const answer = (path: string, status: number, body?: unknown, contentType = 'application/json; charset=utf-8', method = 'GET') =>
    checker.check({ method, path, status, contentType, body: body === undefined ? undefined : JSON.stringify(body) });

  describe('the checker', () => {
    it('passes an answer the document describes; a literal segment beats a parameter', () => {
      expect(answer('/things/1', 200, { n: 1 })).to.deep.equal([]);
      expect(answer('/things/1', 404, { error: { code: 'not_found', message: 'no' } })).to.deep.equal([]);
      expect(checker.templateFor('/things/current')).to.equal('/things/current');
      expect(checker.templateFor('/things/7')).to.equal('/things/{id}');
    });

    it('a body off its schema, a status or media type not listed, an operation not in the document: each is named', () => {
      expect(answer('/things/2', 200, { n: 'two' })).to.deep.equal(['GET /things/2 → 200: data/n must be integer in {"n":"two"}']);
      expect(answer('/things/2', 418, { n: 2 })).to.deep.equal([
        'GET /things/2 → 418: status 418 is not documented for GET /things/{id} (documented: 200, 404)',
      ]);
      expect(answer('/things/2', 200, 'x', 'text/html')).to.deep.equal([
        'GET /things/2 → 200: content type text/html is not documented (documented: application/json)',
      ]);
      expect(answer('/things/2', 200, { n: 2 }, 'application/json', 'DELETE')).to.deep.equal([
        'DELETE /things/2 → 200: the document has no operation DELETE /things/{id}',
      ]);
      expect(checker.check({ method: 'GET', path: '/things/2', status: 200, contentType: 'application/json', body: '{"n":' })[0]).to.match(
        /the body is not JSON/,
      );
    });

    it('a path the document does not know may only answer 404 not_found in the error shape; the allow-list is skipped', () => {
      expect(answer('/nowhere', 404, { error: { code: 'not_found', message: 'no route' } })).to.deep.equal([]);
      expect(answer('/nowhere', 404, { error: { code: 'gone', message: 'x' } })[0]).to.match(/must be equal to constant/);
      expect(answer('/nowhere', 200, { n: 1 })).to.deep.equal(['GET /nowhere → 200: the document has no operation a path like /nowhere']);
      expect(answer('/console/app.js', 200, 'x', 'text/javascript')).to.deep.equal([]);
      expect(answer('/consoles', 200, 'x', 'text/javascript')).to.have.length(1);
    });

    it('event streams: each progress/end data must be a Job; other events are refused', () => {
      const stream = (...events: string[]) =>
        checker.check({ method: 'GET', path: '/things/1/events', status: 200, contentType: 'text/event-stream', body: events.join('') });
      expect(
        stream(
          'retry: 10\n\n',
          'id: 1\nevent: progress\ndata: {"id":"j","status":"running"}\n\n',
          'event: end\ndata: {"id":"j","status":"completed"}\n\n',
        ),
      ).to.deep.equal([]);
      expect(stream('event: end\ndata: {"id":"j"}\n\n')).to.deep.equal([
        'GET /things/1/events → 200: a `end` event is not a Job: data must have required property \'status\' in {"id":"j"}',
      ]);
      expect(stream('event: tick\ndata: {}\n\n')).to.deep.equal([
        'GET /things/1/events → 200: event `tick` is not one the document names (progress, end)',
      ]);
    });
  });

  describe('on the wire', () => {
    let server: Server;
    let url: string;
    before(async () => {
      server = serveChecked(thingsApp(), checker);
      await new Promise((r) => server.once('listening', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise((r) => server.close(r)));

    it('a checked request rejects on a mismatch, with its own failed expectation after it; the server saw it too', async () => {
      const err = await checkedRequest(url, checker)
        .get('/things/2')
        .expect(201)
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(err).to.be.instanceOf(ConformanceError);
      expect(err!.message).to.include('data/n must be integer').and.include('(and: expected 201 "Created", got 200 "OK")');
      expect(takeMismatches()).to.deep.equal(['GET /things/2 → 200: data/n must be integer in {"n":"two"}']);
      // .end(callback) gets the same error.
      const viaEnd = await new Promise<Error | null>((r) =>
        checkedRequest(url, checker)
          .get('/things/2')
          .end((e) => r(e)),
      );
      expect(viaEnd).to.be.instanceOf(ConformanceError);
      expect(takeMismatches()).to.have.length(1);
      await checkedRequest(url, checker).get('/things/1').expect(200);
      expect(takeMismatches()).to.deep.equal([]);
    });

    it('any client is seen (fetch), and a stream is checked event by event while it is still open', async () => {
      await (await fetch(`${url}/things/2`)).text();
      expect(takeMismatches()).to.deep.equal(['GET /things/2 → 200: data/n must be integer in {"n":"two"}']);
      const req = http.get(`${url}/things/2/events`);
      // Destroyed below, maybe before its answer arrived (a loaded machine): that is not a failure.
      req.on('error', () => undefined);
      try {
        const seen: string[] = [];
        const until = Date.now() + 2_000;
        while (!seen.length && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 10));
          seen.push(...takeMismatches());
        }
        expect(seen).to.deep.equal([
          'GET /things/2/events → 200: a `progress` event is not a Job: data must have required property \'status\'; data/id must be string in {"id":2}',
        ]);
      } finally {
        req.destroy();
      }
    });
  });

  it('a test that swallows the rejection, or never checks the answer, still fails (its own mocha run)', function () {
    this.timeout(30_000);
    const run = spawnSync(
      process.execPath,
      ['node_modules/mocha/bin/mocha.js', '--timeout', '10000', 'test/unit/fixtures/conformance-swallowed.ts'],
      {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    expect(run.status, run.stdout + run.stderr).to.equal(2);
    expect(run.stdout)
      .to.match(/1 passing/)
      .and.match(/2 failing/);
    expect(run.stdout).to.match(/1\) a test that swallows a mismatch\s+catches the rejection of a checked request:\s+ConformanceError/);
    expect(run.stdout).to.match(
      /2\) a test that swallows a mismatch\s+reads the answer with fetch and never checks it:\s+ConformanceError/,
    );
    expect(run.stdout).to.include('GET /things/2 → 200: data/n must be integer in {"n":"two"} (in this test)');
  });
});
