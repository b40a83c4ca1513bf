import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Store } from '../../store/store.js';
import { UiActions } from './actions.js';
import { SCRIPT, STYLE } from './assets.js';
import { UiAuth, uiToken } from './auth.js';
import type { StatusPageControl } from './control.js';
import { LiveEvents } from './events.js';
import { page } from './layout.js';
import { pageRoutes } from './pages.js';
import { messagePage } from './pages/forms.js';

export interface UiDeps {
  config: Config;
  store: Store;
  daemon: StatusPageControl;
  logger: Logger;
}

/** nothing but this page's own files, no inline script or style, never in a frame */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-store',
  });
  next();
}

/**
 * The status page at /ui, on the daemon's port: server-rendered pages (overview, held back with
 * Approve, conversations, drift, explain), a stylesheet and a small script, behind a token sign-in.
 * Without a token configured it is disabled and says what to set.
 */
export function mountUi(app: Express, deps: UiDeps): void {
  const router = express.Router();
  router.use(securityHeaders);
  router.use((req, res, next) => {
    if (uiToken(deps.config) !== 'disabled') return next();
    const text = 'The status page is disabled: set server.uiTokenFile (or server.syncTokenFile) and restart the daemon.';
    res
      .status(404)
      .type('html')
      .send(page({ title: 'Disabled', body: messagePage({ title: 'Status page disabled', text }) }));
  });
  router.get('/assets/app.css', (_req, res) => void res.type('css').send(STYLE));
  router.get('/assets/app.js', (_req, res) => void res.type('js').send(SCRIPT));
  router.use(express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));

  const auth = new UiAuth(deps.config, deps.logger.child({ component: 'ui' }));
  auth.routes(router);
  const actions = new UiActions(deps.daemon, deps.logger.child({ component: 'ui' }));
  actions.routes(router, auth);
  router.get('/events', auth.require, new LiveEvents(deps.daemon).handle);
  router.use(auth.require);
  pageRoutes(router, { ...deps, actions: actions.actions, approving: actions.approving });
  app.use('/ui', router);
}
