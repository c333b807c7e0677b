import { pino, type Logger } from 'pino';

/** Structured JSON logs. Authorization headers and anything named like a key are redacted. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.api_key',
        '*.openrouter_api_key',
        '*.openrouter_provisioning_key',
        '*.token',
      ],
      censor: '[redacted]',
    },
  });
}
