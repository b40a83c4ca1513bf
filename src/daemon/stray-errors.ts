import type { Logger } from 'pino';
import { describeError } from '../errors.js';

/**
 * A promise nobody awaited, or a throw in a callback, is logged and the daemon goes on serving:
 * every write is journaled, so one failed request or run must not take SCIM push and SAML down
 * (on the run thread: one stray error must not end the run thread).
 */
export function keepServingOnStrayErrors(log: Logger): void {
  process.on('unhandledRejection', (reason) => log.error({ err: describeError(reason) }, 'unhandled rejection (the daemon goes on)'));
  process.on('uncaughtException', (e) => log.error({ err: describeError(e) }, 'uncaught exception (the daemon goes on)'));
}
