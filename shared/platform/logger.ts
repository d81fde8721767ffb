import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'domain-push', ...bindings },
    redact: {
      paths: [
        'password',
        '*.password',
        '*.*.password',
        'profile.password',
        'api_key',
        '*.api_key',
        'token',
        '*.token',
        'req.headers.authorization',
        'headers.authorization',
        'authorization',
      ],
      censor: '[redacted]',
    },
  });
}
