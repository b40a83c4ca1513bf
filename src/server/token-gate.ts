import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { bearerMatches } from './auth.js';

export type TokenGiven = 'ok' | 'missing' | 'disabled' | 'unreadable';

/**
 * The bearer token of the daemon's own routes (`server.syncToken[File]`), read at each request so
 * that a rotated file is picked up. A file that cannot be read answers 503 and is logged; its
 * content is never shown.
 */
export function syncTokenGate(config: Config, logger: Logger) {
  /** 'ok', 'missing' (no or wrong token), 'disabled' (no token configured), 'unreadable' (its file) */
  const given = (req: Request): TokenGiven => {
    if (config.server.syncToken === undefined && config.server.syncTokenFile === undefined) return 'disabled';
    let expected: string;
    try {
      expected = readSecret(config.server, 'syncToken');
    } catch {
      return 'unreadable';
    }
    return bearerMatches(req.header('authorization'), expected) ? 'ok' : 'missing';
  };
  const require = (req: Request, res: Response, next: NextFunction) => {
    const g = given(req);
    if (g === 'ok') return next();
    if (g === 'disabled') res.status(404).json({ error: `${req.method} ${req.path} is disabled: set server.syncToken or server.syncTokenFile` });
    else if (g === 'unreadable') {
      logger.error({ file: config.server.syncTokenFile }, 'server.syncTokenFile cannot be read');
      res.status(503).json({ error: 'the token file cannot be read (see the daemon log)' });
    } else res.status(401).set('www-authenticate', 'Bearer').json({ error: 'a valid bearer token is required' });
  };
  return { given, require };
}
