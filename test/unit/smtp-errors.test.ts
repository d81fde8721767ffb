import { expect } from 'chai';
import { classifySmtpError } from '../../shared/mail/smtp-errors';

describe('SMTP send errors: a class for unauthenticated views, never the text', () => {
  const cases: [string, string | null][] = [
    ['recipient_rejected', "Can't send mail - all recipients were rejected: 550 5.1.1 <victim@example.com>: Recipient address rejected"],
    ['recipient_rejected', '550 5.1.1 <victim@example.com>: Recipient address rejected'],
    ['recipient_rejected', '553 5.1.3 <bad@@example>: User unknown'],
    ['sender_rejected', '553 5.1.8 <noreply@domain-push.example>: Sender address rejected: Domain not found'],
    ['auth', 'Invalid login: 535 5.7.8 Authentication credentials invalid'],
    ['timeout', 'Connection timeout'],
    ['timeout', 'Greeting never received'],
    ['timeout', 'no reply after the message was sent (maybe delivered): Timeout'],
    ['tls', 'unable to verify the first certificate'],
    ['connection', 'connect ECONNREFUSED 127.0.0.1:2525'],
    ['connection', 'getaddrinfo ENOTFOUND smtp.nowhere.example'],
    ['connection', 'Connection closed unexpectedly'],
    ['rejected', 'Message failed: 451 try again later'],
    ['rejected', 'Message failed: 554 5.7.1 <a@b.example>: spam'],
    ['unknown', 'something odd happened'],
    ['unknown', ''],
    ['unknown', null],
  ];
  for (const [cls, text] of cases)
    it(`${JSON.stringify(text)} → ${cls}`, () => {
      expect(classifySmtpError(text)).to.equal(cls);
    });

  it('a class never carries an address or any text of the peer', () => {
    for (const [, text] of cases) expect(classifySmtpError(text)).to.match(/^[a-z_]+$/);
  });
});
