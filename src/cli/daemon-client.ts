import type { Config } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { StalePlanError } from '../errors.js';
import { httpRequest, shownUrl } from '../http/request.js';
import type { LeaseHolder } from '../store/store.js';

/** an operator's run can take as long as a full sync: wait for the answer, not for a timer */
const ANSWER_TIMEOUT_MS = 6 * 3_600_000;

/**
 * `approve` and `sync` while a daemon holds the writer lease: the command is sent to the daemon
 * (`POST /approve/{run}`, `POST /sync?wait=true`), which runs it between its own runs with the same
 * semantics. The daemon is found at `--daemon URL`, or at `server.host`/`server.port` of the
 * configuration (which is right inside the daemon's pod or host).
 */
export async function sendToDaemon(config: Config, holder: LeaseHolder, path: string, urlFlag: string | undefined): Promise<unknown> {
  const base = (urlFlag ?? localUrl(config)).replace(/\/+$/, '');
  const who = `the daemon (pid ${holder.pid} on ${holder.host})`;
  if (config.server.syncToken === undefined && config.server.syncTokenFile === undefined) {
    throw new Error(
      `${who} holds the writer lease; to send this command to it, configure server.syncToken or server.syncTokenFile (the token of its POST /sync and /approve routes)`,
    );
  }
  const res = await httpRequest('daemon', {
    method: 'POST',
    url: `${base}${path}`,
    headers: { authorization: `Bearer ${readSecret(config.server, 'syncToken')}` },
    timeoutMs: ANSWER_TIMEOUT_MS,
  });
  let body: { error?: string } | undefined;
  try {
    body = JSON.parse(res.text) as { error?: string };
  } catch {
    body = undefined;
  }
  if (res.status === 200) return body;
  const why = body?.error ?? `HTTP ${res.status}`;
  if (res.status === 409) throw new StalePlanError(why);
  if (res.status === 401) throw new Error(`${who} at ${shownUrl(base)} refused the token: server.syncToken differs from the daemon's`);
  throw new Error(`${who} at ${shownUrl(base)} answered ${res.status}: ${why}`);
}

function localUrl(config: Config): string {
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
}
