import net from 'node:net';
import { expect } from 'chai';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { createMailer, SendFailure } from '../../shared/mail/mailer';
import { queueEmail, relayOutbox, type RelayDeps } from '../../shared/mail/outbox';
import { createLogger } from '../../shared/platform/logger';
import { createMetrics } from '../../shared/platform/metrics';
import { createTestDb, type TestDb } from '../helpers/db';
import { waitUntil } from '../helpers/wait';

/**
 * A frozen SMTP peer: the transport's timeouts are really applied (measured against a listener
 * that accepts and never greets), and a send that got no reply after the end of DATA (the server
 * may have the message) is sent at most once more, with the same Message-ID, and counted.
 */
describe('SMTP peer that hangs: bounded sends, an ambiguous send repeated at most once', function () {
  this.timeout(60_000);
  const closers: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('a server that accepts the connection and never greets fails the send within the greeting timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    closers.push(
      () => new Promise((r) => silent.close(r)),
      () => {
        for (const s of sockets) s.destroy();
      },
    );
    const GREETING = 700;
    // Connection and socket timeouts far above the greeting's: only the greeting timeout can end it early.
    const mailer = createMailer(`smtp://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, {
      SMTP_CONNECTION_TIMEOUT_MS: 20_000,
      SMTP_GREETING_TIMEOUT_MS: GREETING,
      SMTP_SOCKET_TIMEOUT_MS: 20_000,
    });
    closers.push(() => mailer.close());

    let started = Date.now();
    const err = await mailer
      .send({
        from: 'a@domain-push.test',
        to: 'b@example.test',
        subject: 's',
        text: 't',
        messageId: '<greet@domain-push>',
        attachments: [],
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    const sendMs = Date.now() - started;
    expect(err).to.be.instanceOf(SendFailure);
    expect((err as SendFailure).ambiguous, 'nothing was handed over: not ambiguous').to.equal(false);
    expect(sendMs, 'ms until the send failed').to.be.within(GREETING * 0.8, GREETING * 2);

    started = Date.now();
    const verified = await mailer.verify().then(
      () => null,
      (e: unknown) => e,
    );
    expect(verified).to.be.instanceOf(Error);
    expect(Date.now() - started, 'ms until verify failed').to.be.below(GREETING * 2);
  });

  describe('no reply after the end of DATA', () => {
    let t: TestDb;
    beforeEach(async () => {
      t = await createTestDb();
      closers.push(() => t.drop());
    });

    /** Takes every message; answers DATA only once `silentFor` messages have gone unanswered. */
    async function mute(silentFor: number) {
      const received: ParsedMail[] = [];
      const server = new SMTPServer({
        disabledCommands: ['STARTTLS', 'AUTH'],
        authOptional: true,
        logger: false,
        onData(stream, _s, cb) {
          simpleParser(stream).then((mail) => {
            received.push(mail);
            if (received.length > silentFor) cb();
            // else: the message is in, the reply never comes
          }, cb);
        },
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      closers.push(() => new Promise<void>((r) => server.close(() => r())));
      return { url: `smtp://127.0.0.1:${(server.server.address() as net.AddressInfo).port}`, received };
    }

    async function relayAgainst(url: string) {
      const mailer = createMailer(url, { SMTP_CONNECTION_TIMEOUT_MS: 300, SMTP_GREETING_TIMEOUT_MS: 300, SMTP_SOCKET_TIMEOUT_MS: 600 });
      closers.push(() => mailer.close());
      const metrics = createMetrics();
      const deps: RelayDeps = { db: t.db, mailer, from: 'domain-push <no-reply@domain-push.test>', log: createLogger('silent'), metrics };
      await queueEmail(t.db, { dedupeKey: 'results-42', to: 'ops@example.test', subject: 'results', text: 'body' });
      const ambiguous = async () => (await metrics.emailAmbiguous.get()).values[0]?.value ?? 0;
      const row = () => t.db('outbound_emails').where({ dedupe_key: 'results-42' }).first();
      return { deps, ambiguous, row };
    }

    it('is sent once more with the same Message-ID, counted, and then marked sent', async () => {
      const smtp = await mute(1);
      const { deps, ambiguous, row } = await relayAgainst(smtp.url);
      await waitUntil(
        async () => {
          await relayOutbox(deps);
          return (await row()).sent_at;
        },
        { timeout: 15_000, interval: 200, label: 'the email marked sent' },
      );
      expect(smtp.received.map((m) => m.messageId)).to.deep.equal(['<results-42@domain-push>', '<results-42@domain-push>']);
      expect(await ambiguous()).to.equal(1);
      expect((await row()).ambiguous_sends).to.equal(1);
    });

    it('twice is not sent a third time: the row is given up, visible, and counted twice', async () => {
      const smtp = await mute(1_000);
      const { deps, ambiguous, row } = await relayAgainst(smtp.url);
      await waitUntil(
        async () => {
          await relayOutbox(deps);
          return (await row()).sent_at;
        },
        { timeout: 15_000, interval: 200, label: 'the email given up' },
      );
      // Due again at once, were it not given up: nothing more is sent.
      await t.db('outbound_emails').update({ next_attempt_at: t.db.fn.now() });
      expect(await relayOutbox(deps)).to.deep.equal({ sent: 0, failed: 0 });
      expect(smtp.received.length).to.equal(2);
      expect(new Set(smtp.received.map((m) => m.messageId))).to.deep.equal(new Set(['<results-42@domain-push>']));
      expect(await ambiguous()).to.equal(2);
      const r = await row();
      expect(r.ambiguous_sends).to.equal(2);
      expect(r.last_error).to.match(/no reply after the message was sent, 2 times; not sent again/);
    });
  });
});
