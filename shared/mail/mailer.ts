import { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Config } from '../platform/config';

interface OutboundMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string | null;
  messageId: string;
  attachments: { filename: string; content: string; contentType?: string; encoding?: 'base64' }[];
}

export interface Mailer {
  /** 'smtp' or 'capture': recorded on the outbox row. */
  readonly kind: 'smtp' | 'capture';
  /**
   * The longest one send() may take, connection to the server's last reply (a hard deadline: the
   * connection is closed when it passes). The outbox leases a row for longer than this.
   */
  readonly sendDeadlineMs: number;
  /** Rejects with a SendFailure; `ambiguous` when the server may have accepted the message. */
  send(msg: OutboundMessage): Promise<void>;
  verify(): Promise<void>;
  close(): void;
}

type SmtpTimeouts = Pick<Config, 'SMTP_CONNECTION_TIMEOUT_MS' | 'SMTP_GREETING_TIMEOUT_MS' | 'SMTP_SOCKET_TIMEOUT_MS'>;

/** config.ts's defaults, for a caller that hands no config. */
const SMTP_TIMEOUT_DEFAULTS: SmtpTimeouts = {
  SMTP_CONNECTION_TIMEOUT_MS: 5_000,
  SMTP_GREETING_TIMEOUT_MS: 5_000,
  SMTP_SOCKET_TIMEOUT_MS: 15_000,
};

/**
 * A send that did not get a "250 accepted". `ambiguous`: the whole message had been handed to the
 * server and no reply came (timeout, cut connection), so it may have been delivered; any other
 * failure (refused connection, no greeting, a 4xx/5xx reply) means the server did not take it.
 */
export class SendFailure extends Error {
  override name = 'SendFailure';
  constructor(
    message: string,
    readonly ambiguous: boolean,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * The hard deadline of one send: the three timeouts nodemailer applies, one after the other (the
 * socket timeout is per silence, so a server that drips bytes could go on; the deadline stops it).
 */
function sendDeadline(t: SmtpTimeouts): number {
  return t.SMTP_CONNECTION_TIMEOUT_MS + t.SMTP_GREETING_TIMEOUT_MS + t.SMTP_SOCKET_TIMEOUT_MS;
}

/**
 * SMTP_URL set: real SMTP with bounded timeouts, so a dead or hung server delays one email by a
 * bounded time instead of holding up the relay. The URL is parsed into transport options with
 * the timeouts beside it: createTransport(url, x) would take x as message defaults, not options.
 * Unset: a capture that renders the full MIME message and keeps it in the outbox for viewing.
 */
export function createMailer(smtpUrl: string | undefined, timeouts: Partial<SmtpTimeouts> = {}): Mailer {
  const t: SmtpTimeouts = { ...SMTP_TIMEOUT_DEFAULTS, ...definedOnly(timeouts) };
  const deadlineMs = sendDeadline(t);
  if (!smtpUrl) {
    const capture: Transporter = nodemailer.createTransport({ streamTransport: true, buffer: true });
    return {
      kind: 'capture',
      sendDeadlineMs: deadlineMs,
      async send(msg) {
        await capture.sendMail(mailOf(msg));
      },
      async verify() {},
      close() {
        capture.close();
      },
    };
  }
  // The URL's parts (host, port, smtps:, user:pass, ?query options) with the timeouts beside
  // them: createTransport(url, x) would take x as message defaults, not as transport options.
  const options: SMTPConnection.Options = {
    ...parseConnectionUrl(smtpUrl),
    connectionTimeout: t.SMTP_CONNECTION_TIMEOUT_MS,
    greetingTimeout: t.SMTP_GREETING_TIMEOUT_MS,
    socketTimeout: t.SMTP_SOCKET_TIMEOUT_MS,
  };
  const transporter: Transporter = nodemailer.createTransport(options as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    kind: 'smtp',
    sendDeadlineMs: deadlineMs,
    send: (msg) => sendOnce(options, msg, deadlineMs),
    async verify() {
      await transporter.verify();
    },
    close() {
      transporter.close();
    },
  };
}

/**
 * One message on a connection of its own, within a hard deadline (the connection is closed when
 * it passes). Sent with SMTPConnection rather than a transport so we know the stage a failure
 * came at: the message is read only after the server's 354, so once it has been read to its
 * end a failure without a reply is ambiguous (the server may have taken it).
 */
async function sendOnce(options: SMTPConnection.Options, msg: OutboundMessage, deadlineMs: number): Promise<void> {
  const node = new MailComposer(mailOf(msg)).compile();
  // The envelope's bare addresses, as nodemailer derives them from From/To.
  const envelope = node.getEnvelope();
  const raw = await node.build();
  let handedOver = false;
  const stream = Readable.from([raw]);
  stream.once('end', () => {
    handedOver = true;
  });
  const conn = new SMTPConnection(options);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error | null) => {
        if (done) return;
        done = true;
        if (err) reject(err);
        else resolve();
      };
      timer = setTimeout(() => {
        const e: Error & { code?: string } = new Error(`no answer within the send deadline of ${deadlineMs} ms`);
        e.code = 'ETIMEDOUT';
        finish(e);
      }, deadlineMs);
      conn.once('error', finish);
      conn.connect((err) => {
        if (err) return finish(err);
        const send = () =>
          conn.send(envelope, stream, (e) => {
            if (e) return finish(e);
            finish();
            conn.quit();
          });
        const auth = (options as { auth?: Parameters<SMTPConnection['login']>[0] }).auth;
        if (auth && conn.allowsAuth) conn.login(auth, (e) => (e ? finish(e) : send()));
        else send();
      });
    });
  } catch (err) {
    conn.close();
    const e = err as Error & { code?: string; responseCode?: number };
    // A reply (4xx/5xx) is an answer: the server did not take the message.
    throw new SendFailure(e.message, handedOver && !e.responseCode, e.code);
  } finally {
    clearTimeout(timer);
  }
}

function mailOf(msg: OutboundMessage) {
  return {
    from: msg.from,
    to: msg.to,
    subject: msg.subject,
    text: msg.text,
    html: msg.html ?? undefined,
    messageId: msg.messageId,
    attachments: msg.attachments,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
