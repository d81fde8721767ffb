import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { waitUntil } from './wait';

export interface SmtpPeer {
  url: string;
  messages: ParsedMail[];
  /** While true the server refuses every message (a temporary failure), to test retries. */
  refuse: boolean;
  waitFor(pred: (m: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

/** The To header as text, however many addresses it holds. */
export function toText(m: ParsedMail): string {
  return Array.isArray(m.to) ? m.to.map((a) => a.text).join(', ') : (m.to?.text ?? '');
}

/** A real SMTP server on loopback that parses what it receives. */
export async function startSmtp(): Promise<SmtpPeer> {
  const peer: SmtpPeer = {
    url: '',
    messages: [],
    refuse: false,
    waitFor(pred, timeoutMs = 20_000) {
      return waitUntil(() => peer.messages.find(pred), {
        timeout: timeoutMs,
        interval: 50,
        label: () => `a matching email (got ${peer.messages.map((m) => m.subject).join(' | ')})`,
      });
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onData(stream, _session, cb) {
      if (peer.refuse) {
        stream.resume();
        stream.on('end', () => {
          const err: Error & { responseCode?: number } = new Error('try again later');
          err.responseCode = 451;
          cb(err);
        });
        return;
      }
      simpleParser(stream).then(
        (mail) => {
          peer.messages.push(mail);
          cb();
        },
        (err) => cb(err),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  peer.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  return peer;
}
