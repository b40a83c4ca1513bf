import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findHelm, Helm, HOW_TO_GET_HELM } from '../helpers/helm.js';
import { skipWithout } from '../helpers/prerequisite.js';
import { runCli } from '../helpers/harness.js';

// README "The daemon": approve and sync --allow-removals "find it at server.host/server.port of the
// configuration (right inside its pod: `kubectl exec deploy/convsync -- convsync approve 42`)", after
// README "Running it for real": `helm install convsync ./helm …`.
const chartDir = fileURLToPath(new URL('../../helm/', import.meta.url));
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'convsync-chart-approve-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const found = findHelm();
const skipHelm = skipWithout('Helm', 'missing' in found ? found.missing : undefined, HOW_TO_GET_HELM);

describe.skipIf(skipHelm)('README `kubectl exec deploy/… -- convsync approve N` against the chart', () => {
  const helm = 'bin' in found ? new Helm(found.bin, chartDir, join(scratch, 'helm-home')) : undefined;
  const release = /helm install (\S+) \.\/helm/.exec(readme)![1]!;
  const [, target, command] = /kubectl exec deploy\/(\S+) -- (convsync [^`]+)`/.exec(readme)! as unknown as [string, string, string];
  const rendered = () => helm!.template([join(chartDir, 'ci', 'deployment-values.yaml')], release).manifests;

  it('names the Deployment the chart makes for that release', () => {
    const deployments = rendered()
      .filter((m) => m.obj.kind === 'Deployment')
      .map((m) => m.obj.metadata.name);
    expect(deployments).toEqual([target]);
  });

  it('runs in the pod as written: the command finds the mounted configuration without --config', async () => {
    const dep = rendered().find((m) => m.obj.kind === 'Deployment')!.obj;
    const c = dep.spec.template.spec.containers[0];
    const env = Object.fromEntries((c.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    const configMount = (c.volumeMounts as { name: string; mountPath: string }[]).find((v) => v.name === 'config')!.mountPath;
    // what the daemon is started with
    expect(c.args.slice(0, 3)).toEqual(['daemon', '--config', `${configMount}/convsync.yaml`]);
    // the README's command, as kubectl exec runs it: the container's env, its working dir (/app: no convsync.yaml)
    expect(command).not.toMatch(/--config|-c /);
    // (the repo root, where tests run, has no convsync.yaml either)
    const res = await runCli(command.split(' ').slice(1), env);
    expect(res.stderr).not.toMatch(/file convsync\.yaml\): cannot read/);
    expect(env.CONVSYNC_CONFIG).toBe(`${configMount}/convsync.yaml`);
  });
});
