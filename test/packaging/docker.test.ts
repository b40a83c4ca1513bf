import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';

const root = new URL('../../', import.meta.url);
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };

describe('Dockerfile', () => {
  it('passes dockerfilelint', () => {
    const out = execFileSync(process.execPath, [new URL('node_modules/dockerfilelint/bin/dockerfilelint', root).pathname, 'Dockerfile'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out).toMatch(/Issues: None found/);
  });

  it('is a multi-stage build to a non-root runtime with a healthcheck, a data volume, and convsync as entrypoint', () => {
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    expect(from).toHaveLength(2);
    for (const image of from) expect(image).toMatch(/^node:22-bookworm-slim$/);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/node_modules/m);
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .* CMD \["node", "\/app\/dist\/healthcheck.js"\]$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/convsync"\]$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["convsync"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["daemon"\]$/m);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).not.toMatch(/:latest/);
  });

  it('the documented `docker run` gives the daemon longer to stop than its shutdown grace (Docker kills after 10 s by default)', () => {
    const grace = ConfigSchema.shape.daemon.parse({}).shutdownGraceMs;
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const runs = [...`${readme}\n${dockerfile}`.matchAll(/^(?:#\s*)?docker run [^\n]*/gm)].map((m) => m[0]);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const run of runs) expect(Number(/--stop-timeout (\d+)/.exec(run)?.[1] ?? 10) * 1000, run).toBeGreaterThan(grace);
  });

  it('builds with the commands CI runs', () => {
    const npmRuns = [...dockerfile.matchAll(/^RUN (npm .+)$/gm)].map((m) => m[1]!);
    expect(npmRuns).toEqual(['npm ci', 'npm run build', 'npm prune --omit=dev']);
    const ci = readFileSync(new URL('.ci/run', root), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
    // `npm test` starts by running exactly the build the image runs
    expect(pkg.scripts.test!.startsWith(`${pkg.scripts.build} && `)).toBe(true);
  });

  it('has a healthcheck that passes on a live /healthz and fails otherwise', async () => {
    const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = String((server.address() as AddressInfo).port);
    const script = new URL('dist/healthcheck.js', root).pathname;
    const tmp = mkdtempSync(join(tmpdir(), 'convsync-healthcheck-'));
    const check = (env: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const child = execFile(process.execPath, [script], { env: { TMPDIR: tmp, ...env } });
        child.on('exit', (code) => resolve(code ?? -1));
      });
    const byEnv = await check({ CONVSYNC_SERVER__PORT: port });
    // the port the daemon wrote once it listened, whatever configured it (a --config file, --set)
    writeFileSync(join(tmp, 'convsync-daemon.port'), port);
    const written = await check({});
    await new Promise<void>((r) => server.close(() => r()));
    const down = await check({});
    expect([byEnv, written, down]).toEqual([0, 0, 1]);
  });
});
