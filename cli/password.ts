import fs from 'node:fs';
import tty from 'node:tty';
import { CliError, EXIT, refused } from './exit-codes';

/**
 * The existing profile's password: from DOMAIN_PUSH_PROFILE_PASSWORD, else typed at a prompt on
 * the controlling terminal (not stdin, which may carry the domain list) with echo off. Never an
 * argument: argv is visible to every user of the machine and kept in shell history.
 */
export async function profilePassword(env: NodeJS.ProcessEnv, label: string): Promise<string> {
  const fromEnv = env.DOMAIN_PUSH_PROFILE_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  let fds: [number, number];
  try {
    // Two descriptors: each stream closes its own when destroyed.
    fds = [fs.openSync('/dev/tty', 'r'), fs.openSync('/dev/tty', 'w')];
  } catch {
    throw refused('The existing profile needs a password: set DOMAIN_PUSH_PROFILE_PASSWORD or run in a terminal to be asked.');
  }
  const password = await promptHidden(fds, `Password for profile ${label}: `);
  if (password === '') throw refused('No password given for the existing profile.');
  return password;
}

function promptHidden([inFd, outFd]: [number, number], prompt: string): Promise<string> {
  const input = new tty.ReadStream(inFd);
  const output = new tty.WriteStream(outFd);
  output.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const done = (err?: CliError) => {
      input.setRawMode(false);
      input.removeAllListeners('data');
      output.write('\n');
      input.destroy();
      output.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    input.on('data', (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError(EXIT.interrupted, 'Interrupted.'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    });
  });
}
