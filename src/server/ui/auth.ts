import type { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';
import { page } from './layout.js';
import { loginPage, messagePage } from './pages/forms.js';
import { LoginLimiter, randomToken, sameSecret, Sessions, type Session } from './session.js';

const SESSION_COOKIE = 'convsync_ui';
const LOGIN_COOKIE = 'convsync_ui_login';
const IDLE_MS = 30 * 60_000;
const MAX_AGE_MS = 12 * 3_600_000;

/** the token that signs in: server.uiToken(File), else the sync token; read at each sign-in so a rotated file counts */
export function uiToken(config: Config): { token: string } | 'disabled' | 'unreadable' {
  const s = config.server;
  const key =
    s.uiToken !== undefined || s.uiTokenFile !== undefined ? 'uiToken' : s.syncToken !== undefined || s.syncTokenFile !== undefined ? 'syncToken' : undefined;
  if (key === undefined) return 'disabled';
  try {
    const token = readSecret(s, key);
    // an empty file must not let an empty form in
    return token === '' ? 'unreadable' : { token };
  } catch {
    return 'unreadable';
  }
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Secure when the browser reached us over https, directly or through a proxy that says so (X-Forwarded-Proto) */
function setCookie(req: Request, res: Response, name: string, value: string, maxAgeSeconds: number): void {
  const https = req.secure || req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
  res.append('Set-Cookie', `${name}=${value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${https ? '; Secure' : ''}`);
}

/** only a path of this page: never an open redirect */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/ui(\/[^\\]*)?(\?[^\\]*)?$/.test(value) && !value.includes('//') ? value : '/ui';
}

/**
 * Sign-in and the session every other route needs. A small form exchanges the token for an
 * HttpOnly, SameSite=Strict session cookie; the form itself carries a one-time value that must
 * match a cookie (no sign-in forced from another site); failures are rate-limited.
 */
export class UiAuth {
  readonly sessions = new Sessions({ idleMs: IDLE_MS, maxAgeMs: MAX_AGE_MS, max: 200 });
  private readonly limiter = new LoginLimiter({ perClient: 5, total: 30, windowMs: 15 * 60_000 });

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  routes(router: Router): void {
    router.get('/login', (req, res) => {
      if (this.sessions.get(cookie(req, SESSION_COOKIE))) return void res.redirect(303, '/ui');
      this.showLogin(req, res, 200);
    });
    router.post('/login', (req, res) => this.login(req, res));
    router.post('/logout', this.require, this.checkCsrf, (req, res) => {
      this.sessions.end(sessionOf(res).id);
      setCookie(req, res, SESSION_COOKIE, '', 0);
      res.redirect(303, '/ui/login');
    });
  }

  private showLogin(req: Request, res: Response, status: number, error?: string): void {
    const loginCsrf = randomToken();
    setCookie(req, res, LOGIN_COOKIE, loginCsrf, 3600);
    const next = safeNext(req.method === 'GET' ? req.query.next : (req.body as Record<string, unknown> | undefined)?.next);
    res
      .status(status)
      .type('html')
      .send(page({ title: 'Sign in', body: loginPage({ loginCsrf, next, error }) }));
  }

  private login(req: Request, res: Response): void {
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = this.limiter.waitSeconds(client);
    if (wait > 0) {
      res.set('retry-after', String(wait));
      return this.showLogin(req, res, 429, `Too many failed sign-ins: try again in ${wait} s.`);
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const formValue = typeof body._csrf === 'string' ? body._csrf : '';
    const expectedForm = cookie(req, LOGIN_COOKIE);
    if (!expectedForm || !sameSecret(formValue, expectedForm)) {
      return this.showLogin(req, res, 403, 'The sign-in form had expired or came from elsewhere: it was reloaded, sign in again.');
    }
    const expected = uiToken(this.config);
    if (expected === 'unreadable') {
      this.logger.error({ file: this.config.server.uiTokenFile ?? this.config.server.syncTokenFile }, 'the status page token file cannot be read, or is empty');
      return this.showLogin(req, res, 503, 'The token file cannot be read (see the daemon log).');
    }
    const given = typeof body.token === 'string' ? body.token : '';
    if (expected === 'disabled' || !sameSecret(given, expected.token)) {
      this.limiter.failed(client);
      this.logger.warn({ client }, 'status page sign-in refused: wrong token');
      return this.showLogin(req, res, 401, 'That token is not the one configured (server.uiTokenFile, or the sync token).');
    }
    const session = this.sessions.create();
    setCookie(req, res, SESSION_COOKIE, session.id, MAX_AGE_MS / 1000);
    setCookie(req, res, LOGIN_COOKIE, '', 0);
    this.logger.info({ client }, 'status page sign-in');
    res.redirect(303, safeNext(body.next));
  }

  /** a signed-in browser only: a page asked for without one goes to the form, anything else gets 401 */
  readonly require = (req: Request, res: Response, next: NextFunction): void => {
    const session = this.sessions.get(cookie(req, SESSION_COOKIE));
    if (session) {
      res.locals.session = session;
      return next();
    }
    if (req.method === 'GET' && req.accepts(['html', 'text/event-stream']) === 'html') {
      return void res.redirect(303, `/ui/login?next=${encodeURIComponent(req.originalUrl)}`);
    }
    res
      .status(401)
      .type('html')
      .send(page({ title: 'Sign in first', body: loginRequired() }));
  };

  /** every POST of a session carries its CSRF token */
  readonly checkCsrf = (req: Request, res: Response, next: NextFunction): void => {
    const given = (req.body as Record<string, unknown> | undefined)?._csrf;
    if (typeof given === 'string' && sameSecret(given, sessionOf(res).csrf)) return next();
    this.logger.warn({ path: req.path }, 'status page: a POST without its CSRF token was refused');
    res
      .status(403)
      .type('html')
      .send(page({ title: 'Refused', body: refusedCsrf() }));
  };
}

export function sessionOf(res: Response): Session {
  return res.locals.session as Session;
}

function loginRequired() {
  return messagePage({ title: 'Sign in first', text: 'This needs a signed-in session: open /ui/login.' });
}

function refusedCsrf() {
  return messagePage({
    title: 'Refused',
    text: 'This form did not carry the token of your session (it is stale, or came from another page). Reload the page and try again.',
  });
}
