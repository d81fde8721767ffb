import pino from 'pino';

export type Logger = pino.Logger;

/** JSON lines on stdout, or on `destination` (the all-in-one `npm start` writes them to a file). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination?: pino.DestinationStream): Logger {
  return pino(
    {
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
    },
    destination,
  );
}
