import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { authorize, importDomains, makeReseller, submit, waitForJob } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * Issue 17 finding 3: /readyz (no sign-in) showed the outbox's last error as the SMTP peer's own
 * text, which names the recipient. It shows a class now; the operator's signed-in views keep the text.
 */

const VICTIM = 'victim@example.com';

/** A real SMTP peer that refuses one recipient at RCPT TO, as a mail server does for an unknown user. */
async function rejectingPeer() {
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onRcptTo(address, _session, cb) {
      if (address.address !== VICTIM) return cb();
      const err: Error & { responseCode?: number } = new Error(`5.1.1 <${VICTIM}>: Recipient address rejected`);
      err.responseCode = 550;
      cb(err);
    },
    onData(stream, _session, cb) {
      stream.resume();
      stream.on('end', () => cb());
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('readyz: the outbox error is a class, never the peer’s text', () => {
  let sys: TestSystem;
  let peer: Awaited<ReturnType<typeof rejectingPeer>>;

  before(async () => {
    peer = await rejectingPeer();
    sys = await startSystem({ config: { SMTP_URL: peer.url } });
  });
  after(async () => {
    await sys?.stop();
    await peer?.close();
  });

  it('after a recipient is rejected (550 5.1.1 <victim@…>), /readyz says recipient_rejected and holds no @; the mailbox keeps the text', async () => {
    const losing = await makeReseller(sys, 'ready-losing');
    const gaining = await makeReseller(sys, 'ready-gaining');
    await authorize(sys, gaining, losing);
    await importDomains(sys, [{ name: 'ready-1.example', reseller: 'ready-losing' }]);
    const res = await submit(sys, losing, { gaining_reseller: 'ready-gaining', domains: ['ready-1.example'], email_results_to: VICTIM });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    await waitForJob(sys, losing, res.body.id);

    const ready = await waitUntil(
      async () => {
        const r = await sys.http().get('/readyz');
        return r.body.outbox?.last_error ? r : null;
      },
      { label: 'the rejected email to show on /readyz' },
    );
    expect(ready.status).to.equal(200);
    expect(ready.body.outbox.last_error.error).to.equal('recipient_rejected');
    expect(ready.text).to.not.include('@');
    expect(ready.text).to.not.include('Recipient address rejected');

    // The operator, signed in, reads what the peer said.
    const id = ready.body.outbox.last_error.email_id;
    const email = await sys.http().get(`/v1/admin/emails/${id}`).set('Authorization', `Bearer ${OPERATOR_KEY}`);
    expect(email.status).to.equal(200);
    expect(email.body.last_error).to.include('550').and.to.include('Recipient address rejected');
  });
});
