import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createLogger } from '../../shared/platform/logger';
import { relayWebhooks } from '../../shared/webhooks/relay';
import { sign } from '../../shared/webhooks/signature';
import { runCli, show, type CliTarget } from '../helpers/cli-run';
import { makeReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { startReceiver, type Receiver } from './webhooks-receiver';

const log = createLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent', { role: 'test-webhooks-cli' });

/** `domain-push webhooks …` against a real API, and `webhooks verify` on a real delivery (exit 0 / 1). */
describe('CLI: domain-push webhooks', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let rx: Receiver;
  let target: CliTarget;
  let dir: string;

  before(async () => {
    sys = await startSystem({ worker: false });
    rx = await startReceiver();
    const who = await makeReseller(sys, `hookcli-${process.pid % 1000}`, { push: false });
    target = { url: sys.url, key: who.key };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookcli-'));
  });
  after(async () => {
    await rx?.close();
    await sys?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('create prints the secret once; list, update, deliveries, redeliver, delete; verify says valid (0) or not (1)', async () => {
    const created = await runCli(target, ['webhooks', 'create', rx.url, '--events', 'api_key.created,api_key.revoked']);
    expect(created.code, show(created)).to.equal(0);
    const secret = created.stdout.trim();
    expect(secret).to.match(/^whsec_/);
    expect(created.stderr).to.match(/shown this once/);
    rx.secret = secret;

    const listed = await runCli(target, ['webhooks', 'list']);
    expect(listed.code, show(listed)).to.equal(0);
    expect(listed.stdout).to.include(rx.url).and.not.include(secret);
    const id = /^(\d+)\s/m.exec(listed.stdout.split('\n').slice(1).join('\n'))![1];

    const off = await runCli(target, ['webhooks', 'update', id, '--disable']);
    expect(off.stdout, show(off)).to.match(/disabled: disabled by the reseller/);
    const on = await runCli(target, ['webhooks', 'update', id, '--enable']);
    expect(on.stdout, show(on)).to.match(/status:\s+enabled/);

    const key = await runCli(target, ['keys', 'create', '--label', 'for-hooks']);
    expect(key.code, show(key)).to.equal(0);
    const got = await waitUntil(async () => {
      await relayWebhooks({ db: sys.db, config: sys.config, log });
      return rx.received[0];
    });
    expect(got.verified).to.equal(true);

    const bodyFile = path.join(dir, 'body.json');
    fs.writeFileSync(bodyFile, got.body);
    const header = `Webhook-Signature: ${got.headers['webhook-signature']}`;
    const valid = await runCli(target, ['webhooks', 'verify', '--secret', secret, '--header', header, '--body-file', bodyFile]);
    expect(valid.code, show(valid)).to.equal(0);
    expect(valid.stdout).to.match(/^valid: signed at /);
    const fromStdin = await runCli(target, ['webhooks', 'verify', '--secret', secret, '--header', header, '--body-file', '-'], {
      input: got.body,
    });
    expect(fromStdin.code, show(fromStdin)).to.equal(0);

    fs.writeFileSync(path.join(dir, 'tampered.json'), got.body.replace('for-hooks', 'for-hookz'));
    for (const args of [
      ['--secret', secret, '--header', header, '--body-file', path.join(dir, 'tampered.json')],
      ['--secret', 'whsec_not-the-one', '--header', header, '--body-file', bodyFile],
      ['--secret', secret, '--header', 'v1=abc', '--body-file', bodyFile],
      ['--secret', secret, '--header', sign(secret, got.body, Math.floor(Date.now() / 1000) - 3600), '--body-file', bodyFile],
    ]) {
      const bad = await runCli(target, ['webhooks', 'verify', ...args]);
      expect(bad.code, show(bad)).to.equal(1);
      expect(bad.stderr).to.match(/^NOT valid: /);
    }
    const old = await runCli(target, [
      'webhooks',
      'verify',
      '--secret',
      secret,
      '--header',
      sign(secret, got.body, Math.floor(Date.now() / 1000) - 3600),
      '--body-file',
      bodyFile,
      '--tolerance',
      '0',
    ]);
    expect(old.code, show(old)).to.equal(0);
    const usage = await runCli(target, ['webhooks', 'verify', '--header', header, '--body-file', bodyFile]);
    expect(usage.code, 'a missing --secret is a usage error').to.equal(2);

    const log1 = await runCli(target, ['webhooks', 'deliveries', id]);
    expect(log1.stdout, show(log1))
      .to.include(got.id)
      .and.match(/delivered\s+1\s+200/);
    const deliveryId = /^(\d+)\s/m.exec(log1.stdout.split('\n').slice(1).join('\n'))![1];
    const again = await runCli(target, ['webhooks', 'redeliver', id, deliveryId]);
    expect(again.code, show(again)).to.equal(0);
    await waitUntil(async () => {
      await relayWebhooks({ db: sys.db, config: sys.config, log });
      return rx.received.length === 2;
    });
    expect(rx.unique().size, 'the redelivery carries the same event id').to.equal(1);

    const bad = await runCli(target, ['webhooks', 'create', 'http://example.com/x', '--events', 'api_key.created']);
    expect(bad.code, show(bad)).to.equal(2);
    expect(bad.stderr).to.match(/https/);
    const gone = await runCli(target, ['webhooks', 'delete', id]);
    expect(gone.code, show(gone)).to.equal(0);
    expect((await runCli(target, ['webhooks', 'deliveries', id])).code).to.equal(2);
  });
});
