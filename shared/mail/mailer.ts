import nodemailer, { type Transporter, type TransportOptions } from 'nodemailer';

export interface OutboundMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string | null;
  messageId: string;
  attachments: { filename: string; content: string; contentType?: string }[];
}

export interface Mailer {
  /** 'smtp' or 'capture': recorded on the outbox row. */
  readonly kind: 'smtp' | 'capture';
  send(msg: OutboundMessage): Promise<void>;
  verify(): Promise<void>;
  close(): void;
}

/**
 * SMTP_URL set: real SMTP with bounded timeouts, so a dead server delays mail instead of hanging.
 * Unset: a capture that renders the full MIME message and keeps it in the outbox for viewing.
 */
export function createMailer(smtpUrl: string | undefined): Mailer {
  const transporter: Transporter = smtpUrl
    ? nodemailer.createTransport(smtpUrl, {
        connectionTimeout: 5000,
        greetingTimeout: 5000,
        socketTimeout: 15000,
      } as TransportOptions)
    : nodemailer.createTransport({ streamTransport: true, buffer: true });
  return {
    kind: smtpUrl ? 'smtp' : 'capture',
    async send(msg) {
      await transporter.sendMail({
        from: msg.from,
        to: msg.to,
        subject: msg.subject,
        text: msg.text,
        html: msg.html ?? undefined,
        messageId: msg.messageId,
        attachments: msg.attachments,
      });
    },
    async verify() {
      if (smtpUrl) await transporter.verify();
    },
    close() {
      transporter.close();
    },
  };
}
