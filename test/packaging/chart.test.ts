import { Ajv } from 'ajv';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CronJob } from 'kubernetes-models/batch/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { HelmRenderer } from '../helpers/helm-render.js';

const chartDir = new URL('../../helm/', import.meta.url).pathname;
const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as object;
const defaults = parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const ciFiles = readdirSync(join(chartDir, 'ci')).filter((f) => f.endsWith('.yaml'));
const ci = (f: string) => parseYaml(readFileSync(join(chartDir, 'ci', f), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const renderer = new HelmRenderer(chartDir);

const KINDS: Record<string, new (o: never) => { validate(): void }> = {
  Deployment: Deployment as never,
  CronJob: CronJob as never,
  Service: Service as never,
  ConfigMap: ConfigMap as never,
  PersistentVolumeClaim: PersistentVolumeClaim as never,
};

/** every manifest of a render, validated against the Kubernetes API schemas */
function manifests(values: Record<string, unknown>): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (const [file, text] of renderer.render(values)) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}\n${text}`);
      const obj = doc.toJS() as Record<string, any> | null;
      if (!obj) continue;
      const Model = KINDS[obj.kind];
      if (Model) new Model(obj as never).validate();
      else expect(obj.kind, file).toBe('ServiceMonitor');
      out.push(obj);
    }
  }
  return out;
}

const byKind = (list: Record<string, any>[], kind: string): any[] => list.filter((m) => m.kind === kind);

describe('Helm chart', () => {
  it('values.yaml and every helm/ci/*.yaml satisfy values.schema.json', () => {
    expect(ciFiles.length).toBeGreaterThanOrEqual(3);
    expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
    for (const f of ciFiles) expect(validate({ ...defaults, ...ci(f) }), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
  });

  it('rejects a typo, an unknown mode, a store in config, and a bad schedule', () => {
    for (const bad of [
      { ...defaults, persistance: { enabled: true } },
      { ...defaults, mode: 'both' },
      { ...defaults, config: { store: { path: '/x' } } },
      { ...defaults, cronJob: { schedule: 'hourly' } },
      { ...defaults, image: { repository: 'x', pullpolicy: 'Always' } },
      { ...defaults, persistence: { enabled: true, mountPath: '/data', accessModes: ['ReadWriteMany'] } },
    ]) {
      expect(validate(bad), JSON.stringify(bad).slice(0, 80)).toBe(false);
    }
  });

  it('deployment mode: one replica, Recreate, probes, service, PVC, hardened pod; no CronJob', () => {
    const m = manifests(ci('deployment-values.yaml'));
    expect(byKind(m, 'CronJob')).toEqual([]);
    const [dep] = byKind(m, 'Deployment');
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.strategy).toEqual({ type: 'Recreate' });
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(c.args).toEqual(['daemon', '--config', '/etc/convsync/convsync.yaml']);
    expect(c.image).toBe('convsync/convsync:0.1.0');
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 });
    expect(c.volumeMounts.map((v: { mountPath: string }) => v.mountPath)).toEqual(['/etc/convsync', '/var/lib/convsync', '/tmp', '/run/secrets']);
    expect(pod.volumes.find((v: { name: string }) => v.name === 'secrets').secret.secretName).toBe('convsync-secrets');
    expect(dep.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    expect(byKind(m, 'Service')[0].spec.ports[0]).toMatchObject({ name: 'http', port: 8080, targetPort: 'http' });
    expect(byKind(m, 'PersistentVolumeClaim')[0].spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(byKind(m, 'ServiceMonitor')[0].metadata.labels.release).toBe('prometheus');
  });

  it('cronjob mode: Forbid, deadlines, `convsync sync`, the same PVC; dryRun renders --dry-run', () => {
    const m = manifests(ci('cronjob-values.yaml'));
    expect(byKind(m, 'Deployment')).toEqual([]);
    expect(byKind(m, 'Service')).toEqual([]);
    const [cj] = byKind(m, 'CronJob');
    expect(cj.spec).toMatchObject({ schedule: '*/10 * * * *', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300 });
    expect(cj.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 900 });
    const pod = cj.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.containers[0].args).toEqual(['sync', '--config', '/etc/convsync/convsync.yaml']);
    expect(pod.volumes.find((v: { name: string }) => v.name === 'data').persistentVolumeClaim.claimName).toBe('rel-convsync');
    expect(byKind(m, 'PersistentVolumeClaim')[0].spec.storageClassName).toBe('standard');

    const dry = manifests(ci('cronjob-dryrun-values.yaml'));
    const dpod = byKind(dry, 'CronJob')[0].spec.jobTemplate.spec.template.spec;
    expect(dpod.containers[0].args).toEqual(['sync', '--config', '/etc/convsync/convsync.yaml', '--dry-run']);
    expect(dpod.volumes.find((v: { name: string }) => v.name === 'data').emptyDir).toEqual({});
    expect(byKind(dry, 'PersistentVolumeClaim')).toEqual([]);
  });

  it('renders a ConfigMap that convsync itself accepts, for every CI values file', () => {
    for (const f of ciFiles) {
      const [cm] = byKind(manifests(ci(f)), 'ConfigMap');
      const file = join(mkdtempSync(join(tmpdir(), 'convsync-chart-')), 'convsync.yaml');
      writeFileSync(file, cm.data['convsync.yaml']);
      const config = loadConfig({ file, env: {}, checkSecretFiles: false });
      expect(config.store.path, f).toBe('/var/lib/convsync/convsync.db');
    }
  });

  it('never uses a :latest image, and has no value for replicas or concurrencyPolicy', () => {
    for (const f of readdirSync(join(chartDir, 'templates'))) expect(readFileSync(join(chartDir, 'templates', f), 'utf8')).not.toMatch(/:latest/);
    expect(JSON.stringify(defaults)).not.toMatch(/replica|concurrencyPolicy/i);
  });
});
