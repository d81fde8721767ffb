/**
 * What kind of failure an outbox send error is, in a word that carries no text of the peer's.
 * The stored `last_error` is the SMTP server's own reply ("550 5.1.1 <victim@example.com>:
 * Recipient address rejected"): it names recipients, so only the signed-in mailbox shows it;
 * unauthenticated answers (/readyz) show this class instead.
 */
export type SmtpErrorClass =
  /** The peer refused a recipient (RCPT TO: 550 5.1.x, "all recipients were rejected"). */
  | 'recipient_rejected'
  /** The peer refused our sender (MAIL FROM: 5.1.7/5.1.8, "sender … rejected"). */
  | 'sender_rejected'
  /** SMTP authentication failed (535, 534, 530 5.7.0, nodemailer's EAUTH). */
  | 'auth'
  /** No answer in time: connect, greeting, socket or no reply after the message was sent. */
  | 'timeout'
  /** TLS could not be set up (certificate, handshake, STARTTLS). */
  | 'tls'
  /** The server could not be reached or dropped the connection (refused, reset, DNS). */
  | 'connection'
  /** The message was refused (a 4xx to try later or a 5xx, at DATA or after it). */
  | 'rejected'
  /** Anything else. */
  | 'unknown';

/** In the order they are tried: the more specific first (a timeout mentions the connection too). */
const RULES: [SmtpErrorClass, RegExp][] = [
  ['timeout', /\b(ETIMEDOUT|ETIMEOUT)\b|time(d)?\s?out|no reply after|greeting never received/i],
  ['auth', /\bEAUTH\b|authenticat|\b53[45]\b|\b530[ -]5\.7\.0\b|\b5\.7\.8\b/i],
  ['tls', /\bTLS\b|\bSSL\b|certificate|handshake|STARTTLS/i],
  ['sender_rejected', /sender (address )?(was )?rejected|\bMAIL FROM\b|\b5\.1\.[78]\b/i],
  [
    'recipient_rejected',
    /recipients? (address )?(were |was )?rejected|all recipients|\bRCPT\b|\b5\.1\.[0-6]\b|\b55[03][ -]5\.1\.|user unknown|no such user|mailbox (unavailable|not found)/i,
  ],
  [
    'connection',
    /\b(ECONNREFUSED|ECONNRESET|ECONNECTION|ESOCKET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|EDNS)\b|connection (closed|refused|reset|lost)|unexpected close/i,
  ],
  ['rejected', /\b[45]\d\d\b|\bEMESSAGE\b|\bEENVELOPE\b|rejected|refused|try again later/i],
];

/** The class of a stored send error (`outbound_emails.last_error`, or an error's message). Pure. */
export function classifySmtpError(text: string | null | undefined): SmtpErrorClass {
  if (!text) return 'unknown';
  for (const [cls, pattern] of RULES) if (pattern.test(text)) return cls;
  return 'unknown';
}
