import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { createMailer, type Mailer } from '../../shared/mail/mailer';
import { leaseEmail, queueEmail, relayOutbox, sendLeased, type RelayDeps } from '../../shared/mail/outbox';
import { createLogger } from '../../shared/platform/logger';
import { createTestDb, type TestDb } from '../helpers/db';
import { waitUntil } from '../helpers/wait';

/**
 * The outbox relay against real SMTP peers that hang or answer slowly, with two relays on one
 * outbox (as two worker processes have): one hung recipient holds up nobody else's mail, a slow
 * peer gets every message once, and a relay whose lease ran out does not send.
 */

interface Peer {
  url: string;
  messages: ParsedMail[];
  close(): Promise<void>;
}

/** smtp-server that never answers RCPT TO for `hang` addresses, and answers DATA after `delayMs`. */
async function peer(opts: { hang?: (address: string) => boolean; delayMs?: number } = {}): Promise<Peer> {
  const messages: ParsedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    // A tarpit: the recipient is never answered, the connection stays open.
    onRcptTo(address, _session, cb) {
      if (opts.hang?.(address.address)) return;
      cb();
    },
    onData(stream, _session, cb) {
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          setTimeout(cb, opts.delayMs ?? 0);
        },
        (err) => cb(err),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    messages,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const log = createLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent', { role: 'test-relay' });
// Small bounds: a send is over within 0.3 + 0.3 + 1 s whatever the server does.
const TIMEOUTS = { SMTP_CONNECTION_TIMEOUT_MS: 300, SMTP_GREETING_TIMEOUT_MS: 300, SMTP_SOCKET_TIMEOUT_MS: 1000 };

function idCounts(messages: ParsedMail[]) {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m.messageId ?? '', (counts.get(m.messageId ?? '') ?? 0) + 1);
  return counts;
}

/** A relay loop, as worker/runtime.ts runs one per process, until stopped. */
function relayLoop(deps: RelayDeps) {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await relayOutbox(deps);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return async () => {
    stopped = true;
    await done;
  };
}

describe('mail relay: one hung peer holds up no one, a slow peer gets each email once, a zombie relay is fenced', function () {
  this.timeout(60_000);
  let t: TestDb;
  const closers: (() => Promise<unknown> | unknown)[] = [];

  beforeEach(async () => {
    t = await createTestDb();
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await t.drop();
  });

  async function queue(n: number, to: (i: number) => string, prefix: string) {
    for (let i = 0; i < n; i++) {
      await queueEmail(t.db, { dedupeKey: `${prefix}-${i}`, to: to(i), subject: `${prefix} ${i}`, text: `body ${i}` });
    }
  }

  function relayDeps(mailer: Mailer, extra: Partial<RelayDeps> = {}): RelayDeps {
    return { db: t.db, mailer, from: 'domain-push <no-reply@domain-push.test>', log, concurrency: 2, ...extra };
  }

  it('with a tarpit for one recipient, two relays deliver every other email within the bound, none twice', async () => {
    const smtp = await peer({ hang: (a) => a.startsWith('tarpit') });
    closers.push(() => smtp.close());
    // The tarpit's emails come first, more of them than the relays have lanes: unbounded sends would hold every lane.
    await queue(6, () => 'tarpit@hung.example', 'hung');
    await queue(12, (i) => `user${i}@ok.example`, 'ok');
    const mailers = [createMailer(smtp.url, TIMEOUTS), createMailer(smtp.url, TIMEOUTS)];
    closers.push(() => {
      for (const m of mailers) m.close();
    });
    const started = Date.now();
    const stops = mailers.map((m) => relayLoop(relayDeps(m)));
    closers.push(() => Promise.all(stops.map((s) => s())));

    await waitUntil(() => smtp.messages.length >= 12, { timeout: 20_000, label: () => `12 emails (got ${smtp.messages.length})` });
    const elapsed = Date.now() - started;
    // Each hung send costs one lane at most its deadline (1.6 s); the rest flow past it.
    expect(elapsed, 'ms until the other emails were delivered').to.be.below(10_000);
    await Promise.all(stops.map((s) => s()));
    const counts = idCounts(smtp.messages);
    expect(
      [...counts.values()].every((n) => n === 1),
      JSON.stringify([...counts]),
    ).to.equal(true);
    expect(counts.size).to.equal(12);
    const hung = await t.db('outbound_emails').where('dedupe_key', 'like', 'hung-%').select('sent_at', 'last_error', 'attempts');
    for (const h of hung) {
      expect(h.sent_at).to.equal(null);
      expect(h.last_error).to.match(/timeout|deadline/i);
    }
  });

  it('a peer answering each email later than a batch lease lasts gets every email once from two relays', async () => {
    // Each answer takes 0.6 s: a batch of 8 leased at once for 2 s would see its tail re-leased and sent again.
    const smtp = await peer({ delayMs: 600 });
    closers.push(() => smtp.close());
    await queue(8, (i) => `slow${i}@slow.example`, 'slow');
    const mailers = [createMailer(smtp.url, TIMEOUTS), createMailer(smtp.url, TIMEOUTS)];
    closers.push(() => {
      for (const m of mailers) m.close();
    });
    const stops = mailers.map((m) => relayLoop(relayDeps(m, { concurrency: 1, leaseMs: 2_000 })));
    closers.push(() => Promise.all(stops.map((s) => s())));

    await waitUntil(async () => Number((await t.db('outbound_emails').whereNull('sent_at').count('* as n'))[0].n) === 0, {
      timeout: 30_000,
      label: () => `every email marked sent (delivered ${smtp.messages.length})`,
    });
    await Promise.all(stops.map((s) => s()));
    const counts = idCounts(smtp.messages);
    expect(counts.size).to.equal(8);
    expect(
      [...counts].filter(([, n]) => n > 1),
      'Message-IDs delivered more than once',
    ).to.deep.equal([]);
  });

  it('a relay whose lease ran out while it was paused does not send: the relay that took over sent it, once', async () => {
    const smtp = await peer();
    closers.push(() => smtp.close());
    await queue(1, () => 'once@fenced.example', 'zombie');
    const [{ id }] = await t.db('outbound_emails').select('id');
    const mailer = createMailer(smtp.url, TIMEOUTS);
    closers.push(() => mailer.close());
    const deps = relayDeps(mailer, { leaseMs: 2_000 });

    // The zombie leases the row, then "pauses" (it does nothing) until its lease has run out.
    const zombie = await leaseEmail(t.db, id, 'zombie-token', deps.leaseMs!);
    expect(zombie, 'the zombie got the lease').to.not.equal(undefined);
    // While its lease holds, no other relay takes the row.
    expect(await relayOutbox(deps)).to.deep.equal({ sent: 0, failed: 0 });
    await waitUntil(
      async () => (await t.db.raw('select lease_until < clock_timestamp() as over from outbound_emails where id = ?', [id])).rows[0].over,
      {
        timeout: 5_000,
        label: 'the lease to run out',
      },
    );
    expect(await relayOutbox(deps)).to.deep.equal({ sent: 1, failed: 0 });
    await waitUntil(() => smtp.messages.length === 1, { timeout: 5_000, label: 'the successor relay to deliver' });

    // The zombie resumes and goes on to send: refused at the fence, nothing reaches the server.
    expect(await sendLeased(deps, zombie!, 'zombie-token')).to.equal('fenced');
    expect(smtp.messages.length).to.equal(1);
    const row = await t.db('outbound_emails').where({ id }).first();
    expect(row.sent_at).to.not.equal(null);
    expect(row.attempts).to.equal(2);
  });

  it('an attachment queued to be made is made when the email is sent, stored, and never left out: a relay without its renderer, or a renderer that fails, does not send', async () => {
    const smtp = await peer();
    closers.push(() => smtp.close());
    const mailer = createMailer(smtp.url, TIMEOUTS);
    closers.push(() => mailer.close());
    await queueEmail(t.db, {
      dedupeKey: 'made-at-send',
      to: 'ops@made.example',
      subject: 'results',
      text: 'see the CSV',
      attachments: [{ filename: 'results.csv', contentType: 'text/csv', render: { name: 'test-csv', args: { rows: 3 } } }],
    });
    const row = () => t.db('outbound_emails').where({ dedupe_key: 'made-at-send' }).first();
    const due = () => t.db('outbound_emails').where({ dedupe_key: 'made-at-send' }).update({ next_attempt_at: t.db.fn.now() });

    // A relay that lacks the renderer (an older worker during a deploy) does not send it without its CSV.
    expect(await relayOutbox(relayDeps(mailer))).to.deep.equal({ sent: 0, failed: 1 });
    expect(smtp.messages).to.have.length(0);
    expect((await row()).last_error).to.equal('could not make an attachment: no renderer "test-csv" in this relay');
    // Nor does one whose renderer fails.
    await due();
    let calls = 0;
    const failing = { 'test-csv': async () => Promise.reject(new Error('items unreadable')) };
    expect(await relayOutbox(relayDeps(mailer, { renderers: failing }))).to.deep.equal({ sent: 0, failed: 1 });
    expect((await row()).last_error).to.equal('could not make an attachment: items unreadable');
    expect((await row()).sent_at).to.equal(null);

    await due();
    const renderers = {
      'test-csv': async (_db: unknown, args: Record<string, string | number>) => {
        calls++;
        const lines = Array.from({ length: Number(args.rows) }, (_, i) => `d${i}.example,pushed\n`).join('');
        return { filename: 'results.csv', contentType: 'text/csv', content: `domain,status\n${lines}` };
      },
    };
    expect(await relayOutbox(relayDeps(mailer, { renderers }))).to.deep.equal({ sent: 1, failed: 0 });
    await waitUntil(() => smtp.messages.length === 1, { timeout: 5_000, label: 'the email with its CSV' });
    const sent = smtp.messages[0];
    expect(sent.attachments.map((a) => [a.filename, a.content.toString('utf8')])).to.deep.equal([
      ['results.csv', 'domain,status\nd0.example,pushed\nd1.example,pushed\nd2.example,pushed\n'],
    ]);
    // The made CSV is stored in the row: the operator's view shows it, and a send again (a lost
    // "250", say) sends these bytes without making them a second time.
    const stored = await row();
    expect(stored.attachments).to.deep.equal([
      {
        filename: 'results.csv',
        contentType: 'text/csv',
        content: 'domain,status\nd0.example,pushed\nd1.example,pushed\nd2.example,pushed\n',
      },
    ]);
    await t.db('outbound_emails').where({ id: stored.id }).update({ sent_at: null, next_attempt_at: t.db.fn.now() });
    expect(await relayOutbox(relayDeps(mailer, { renderers }))).to.deep.equal({ sent: 1, failed: 0 });
    await waitUntil(() => smtp.messages.length === 2, { timeout: 5_000, label: 'the email sent again' });
    expect(calls).to.equal(1);
    expect(smtp.messages[1].attachments[0].content.toString('utf8')).to.equal(sent.attachments[0].content.toString('utf8'));
    expect(smtp.messages[1].messageId).to.equal(sent.messageId);
  });
});
