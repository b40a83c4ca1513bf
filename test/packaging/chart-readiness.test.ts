import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { GROUP, scim, startDaemon, type Daemon } from '../helpers/daemon.js';

// The chart's Deployment gates the Service (SCIM push from Entra/Okta, POST /sync, /ui) on its
// readinessProbe. A pod whose last run failed still serves SCIM pushes; Kubernetes must keep it
// in the Service, or every push is refused until a scheduled run succeeds.
const values = parseYaml(readFileSync(new URL('../../helm/values.yaml', import.meta.url), 'utf8')) as {
  readinessProbe: { httpGet: { path: string } };
};

describe('helm readinessProbe vs a daemon whose last run failed', () => {
  let h: Harness;
  let d: Daemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    await h?.close();
  });

  it('the route the chart probes for readiness answers 200 while the daemon takes SCIM pushes', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 2 });
    // a second, pulled source that cannot be read: every run fails (exit 1 semantics), nothing else is wrong
    d = await startDaemon(h, {
      sources: [
        { name: 'idp', type: 'scim-push', tokenFile: './push-token' },
        { name: 'down', type: 'scim', baseUrl: 'http://127.0.0.1:9/scim/v2', auth: { type: 'bearer', token: 'x' } },
      ],
    });
    const ready = await request(`${d.url}/readyz`);
    const body = JSON.parse(await ready.body.text()) as { lastResult?: string };
    expect(['error', 'failed']).toContain(body.lastResult);
    expect(ready.statusCode).toBe(503);
    // the daemon serves pushes fine
    const pushed = await scim(d, 'POST', '/Groups', { schemas: [GROUP], externalId: 'g1', displayName: 'team-x', members: [] });
    expect(pushed.status).toBe(201);
    // … but the chart's readinessProbe would take it out of the Service
    const probed = await request(`${d.url}${values.readinessProbe.httpGet.path}`);
    await probed.body.text();
    expect(probed.statusCode, `readinessProbe ${values.readinessProbe.httpGet.path}`).toBe(200);
  });
});
