import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import { pino, type Logger, type LevelWithSilent } from 'pino';

/** Paths never written to a log, wherever a secret could travel. */
export const REDACT_PATHS = [
  'password',
  'token',
  'access_token',
  'clientSecret',
  'authorization',
  'cookie',
  '*.password',
  '*.token',
  '*.access_token',
  '*.clientSecret',
  '*.authorization',
  '*.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'config.backend.password',
  'config.sources[*].auth.token',
  'config.sources[*].auth.password',
  'config.sources[*].auth.clientSecret',
];

/**
 * pino JSON on stderr (stdout carries plans and results), readable lines on a terminal, secrets
 * redacted by path. Messages never interpolate secrets, since redaction works on fields only.
 */
export function createLogger(level: LevelWithSilent, opts: { pretty?: boolean } = {}): Logger {
  const options = { level, base: { app: 'convsync' }, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } };
  if (opts.pretty ?? prettyLogs()) return pino(options, pretty()({ destination: 2, sync: true, ignore: 'pid,hostname,app', translateTime: 'HH:MM:ss' }));
  return pino(options, pino.destination({ dest: 2, sync: true }));
}

/** readable lines on a terminal, unless CONVSYNC_LOG_PRETTY=false */
export function prettyLogs(): boolean {
  return process.stderr.isTTY === true && process.env.CONVSYNC_LOG_PRETTY !== 'false';
}

/** pino-pretty only for a terminal: a CronJob's or container's run does not load it */
const pretty = () => createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
