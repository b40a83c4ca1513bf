import { groupKey } from '../group-key.js';
import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { MappingConfig, SamlSourceConfig } from '../config/schema.js';
import { identityValue } from '../identity/resolve.js';
import { matchGroup } from '../mapping/map.js';
import { renderTemplate } from '../template.js';
import { SamlRejected } from '../sources/saml/checks.js';
import { loginUser } from '../sources/saml/index.js';
import { SamlServiceProvider, type AcceptedLogin } from '../sources/saml/sp.js';
import type { Store } from '../store/store.js';

export interface SamlDeps {
  sources: SamlSourceConfig[];
  mappings: readonly MappingConfig[];
  /** `identity.from`: a user without it cannot be matched to a chat user, and is told so */
  identityFrom: string;
  store: Store;
  logger: Logger;
  maxBodyBytes: number;
  dispatcher?: Dispatcher;
  now?: () => number;
  /** group keys (`<source>:<group id>`) whose membership changed */
  onChange: (groupKeys: string[]) => void;
  onLogin?: (result: 'accepted' | 'rejected' | 'error') => void;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: Response, status: number, title: string, body: string): void {
  res
    .status(status)
    .type('html')
    .set('cache-control', 'no-store')
    .set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>` +
        `<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}</style></head>` +
        `<body><h1>${escape(title)}</h1>${body}</body></html>`,
    );
}

/** The conversations a user's groups lead to, by the mapping rules (names as they will be shown). */
function conversationsOf(source: string, groups: string[], mappings: readonly MappingConfig[]): string[] {
  const names = new Set<string>();
  for (const id of groups) {
    const group = { key: groupKey(source, id), source, id, displayName: id, members: [], complete: true };
    const matched = matchGroup(group, mappings);
    if (matched) names.add(renderTemplate(mappings[matched.rule]!.name, matched.vars));
  }
  return [...names].sort();
}

function welcome(res: Response, source: SamlSourceConfig, accepted: AcceptedLogin, deps: SamlDeps): void {
  const who = `<p>Signed in as <strong>${escape(accepted.login.nameId)}</strong>.</p>`;
  if (identityValue(loginUser(accepted.login, source.users), deps.identityFrom) === undefined) {
    page(
      res,
      200,
      'Signed in',
      `${who}<p>Your sign-in carries no ${escape(deps.identityFrom)}, which is needed to find you in the chat: you cannot be added to conversations yet. Please tell your administrator.</p>`,
    );
    return;
  }
  if (accepted.groups.unknown) {
    page(
      res,
      200,
      'Signed in',
      `${who}<p>Your identity provider did not list your groups (there are too many to send). Your conversations stay as they are.</p>`,
    );
    return;
  }
  const names = conversationsOf(source.name, accepted.groups.keys, deps.mappings);
  const list =
    names.length > 0
      ? `<p>You will be in these conversations:</p><ul>${names.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>`
      : '<p>None of your groups leads to a conversation.</p>';
  page(res, 200, 'Signed in', `${who}${list}<p>Changes reach the chat within a few minutes. You can close this page.</p>`);
}

/**
 * Serves each `saml` source: `<path>/metadata`, `<path>/login` (SP-initiated, HTTP-Redirect) and
 * `<path>/acs` (HTTP-POST). A rejected response gets an error page and a log line with the reason,
 * never a stack trace; an accepted one changes the groups it named (and those it no longer names).
 */
export function mountSaml(app: Express, deps: SamlDeps): void {
  for (const source of deps.sources) {
    const log = deps.logger.child({ component: 'saml', source: source.name });
    const sp = new SamlServiceProvider(source, deps.store, {
      dispatcher: deps.dispatcher,
      now: deps.now,
    });
    const router = express.Router();
    router.get('/metadata', (_req, res) => {
      res.type('application/samlmetadata+xml').send(sp.metadata());
    });
    router.get('/login', async (req: Request, res: Response) => {
      try {
        const relayState = typeof req.query.RelayState === 'string' ? req.query.RelayState.slice(0, 80) : undefined;
        res.redirect(302, await sp.loginRedirect(relayState));
      } catch (e) {
        log.error({ err: (e as Error).message }, 'SAML login request failed');
        page(res, 503, 'Sign-in unavailable', '<p>The identity provider cannot be reached right now. Please try again in a few minutes.</p>');
      }
    });
    router.post('/acs', express.urlencoded({ extended: false, limit: deps.maxBodyBytes }), async (req: Request, res: Response) => {
      try {
        const accepted = await sp.accept((req.body as Record<string, unknown> | undefined)?.SAMLResponse);
        const keys = [...new Set([...accepted.groups.keys, ...accepted.previousGroups])].map((g) => groupKey(source.name, g));
        log.info(
          {
            user: accepted.login.nameId,
            groups: accepted.groups.keys.length,
            groupsUnknown: accepted.groups.unknown,
            ignored: accepted.groups.ignored.length,
            assertion: accepted.login.assertionId,
          },
          'SAML login recorded',
        );
        deps.onLogin?.('accepted');
        if (keys.length > 0) deps.onChange(keys);
        welcome(res, source, accepted, deps);
      } catch (e) {
        if (e instanceof SamlRejected) {
          log.warn({ reason: e.reason }, 'SAML response rejected');
          deps.onLogin?.('rejected');
          page(
            res,
            400,
            'Sign-in rejected',
            `<p>Your sign-in could not be accepted: ${escape(e.reason)}.</p><p>Please start again from your identity provider; if this persists, tell your administrator.</p>`,
          );
        } else {
          log.error({ err: (e as Error).message }, 'SAML response could not be handled');
          deps.onLogin?.('error');
          page(res, 500, 'Sign-in failed', '<p>Something went wrong on our side. Please try again; if this persists, tell your administrator.</p>');
        }
      }
    });
    router.use((err: Error & { type?: string; status?: number }, _req: Request, res: Response, _next: express.NextFunction) => {
      // body-parser's refusals carry a 4xx status; anything else (an unreadable key file) is ours
      if (typeof err.status === 'number' && err.status < 500) {
        log.warn({ err: err.message }, 'SAML request refused');
        page(res, err.type === 'entity.too.large' ? 413 : 400, 'Sign-in rejected', '<p>The request could not be read.</p>');
        return;
      }
      log.error({ err: err.message }, 'SAML request failed');
      page(res, 500, 'Sign-in unavailable', '<p>Something went wrong on our side. Please try again later; if this persists, tell your administrator.</p>');
    });
    app.use(source.path, router);
  }
}
