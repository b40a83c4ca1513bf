import { Ajv } from 'ajv';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CronJob } from 'kubernetes-models/batch/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { parse as parseYaml, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { findHelm, Helm, HOW_TO_GET_HELM, type Manifest } from '../helpers/helm.js';
import { skipWithout } from '../helpers/prerequisite.js';

const chartDir = fileURLToPath(new URL('../../helm/', import.meta.url));
const exampleDir = fileURLToPath(new URL('../../config/', import.meta.url));
const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as object;
const defaults = parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const ciFiles = readdirSync(join(chartDir, 'ci')).filter((f) => f.endsWith('.yaml'));
const ciPath = (f: string) => join(chartDir, 'ci', f);
const ci = (f: string) => parseYaml(readFileSync(ciPath(f), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const scratch = mkdtempSync(join(tmpdir(), 'convsync-chart-'));

/** values a person might write by mistake, each with the value Helm's schema message must name (Helm 3 or 4 wording) */
const BAD_VALUES: { values: Record<string, unknown>; names: RegExp }[] = [
  { values: { persistance: { enabled: true } }, names: /persistance/ },
  { values: { mode: 'both' }, names: /\bmode\b/ },
  { values: { config: { store: { path: '/x' } } }, names: /\bconfig\b/ },
  { values: { cronJob: { schedule: 'hourly' } }, names: /cronJob.schedule/ },
  { values: { image: { repository: 'x', pullpolicy: 'Always' } }, names: /pullpolicy/ },
  { values: { persistence: { enabled: true, mountPath: '/data', accessModes: ['ReadWriteMany'] } }, names: /persistence.accessModes.0/ },
  { values: { configFiles: { 'convsync.yaml': 'store: {}' } }, names: /configFiles/ },
  { values: { configFiles: { 'ca/ldap.pem': 'x' } }, names: /configFiles/ },
  { values: { extraVolumeMounts: [{ name: 'x' }] }, names: /extraVolumeMounts.0/ },
];

const found = findHelm();
const skipHelm = skipWithout('Helm', 'missing' in found ? found.missing : undefined, HOW_TO_GET_HELM);
const helm = 'bin' in found ? new Helm(found.bin, chartDir, join(scratch, 'helm-home')) : undefined;

const KINDS: Record<string, new (o: never) => { validate(): void }> = {
  Deployment: Deployment as never,
  CronJob: CronJob as never,
  Service: Service as never,
  ConfigMap: ConfigMap as never,
  PersistentVolumeClaim: PersistentVolumeClaim as never,
};

const renders = new Map<string, { text: string; manifests: Manifest[] }>();
/** `helm template` of values.yaml with these files over it (memoised: a render is deterministic) */
function render(...files: string[]): { text: string; manifests: Manifest[] } {
  const key = files.join('\0');
  if (!renders.has(key)) renders.set(key, helm!.template(files));
  return renders.get(key)!;
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const byKind = (m: Manifest[], kind: string): any[] => m.filter((x) => x.obj.kind === kind).map((x) => x.obj);
const podOf = (workload: any): any => (workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template);
const valuesFile = (name: string, values: Record<string, unknown>) => {
  const file = join(scratch, name);
  writeFileSync(file, stringify(values));
  return file;
};

describe('Helm chart values (values.schema.json, without Helm)', () => {
  it('values.yaml and every helm/ci/*.yaml satisfy values.schema.json', () => {
    expect(ciFiles.length).toBeGreaterThanOrEqual(4);
    expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
    for (const f of ciFiles) expect(validate({ ...defaults, ...ci(f) }), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
  });

  it('rejects a typo, an unknown mode, a store in config, a bad schedule, a bad pull policy key and a shared volume', () => {
    for (const bad of BAD_VALUES) expect(validate({ ...defaults, ...bad.values }), JSON.stringify(bad.values)).toBe(false);
  });

  it('never uses a :latest image, and has no value for replicas or concurrencyPolicy', () => {
    for (const f of readdirSync(join(chartDir, 'templates'))) expect(readFileSync(join(chartDir, 'templates', f), 'utf8')).not.toMatch(/:latest/);
    expect(JSON.stringify(defaults)).not.toMatch(/replica|concurrencyPolicy/i);
  });
});

describe.skipIf(skipHelm)(`Helm chart rendered by Helm itself (${'version' in found ? found.version : 'no helm'})`, () => {
  it('passes `helm lint --strict` with values.yaml alone and with every helm/ci/*.yaml', () => {
    for (const files of [[], ...ciFiles.map((f) => [ciPath(f)])]) {
      const r = helm!.lint(files);
      const out = r.stdout + r.stderr;
      expect(r.status, `${files.join(' ')}\n${out}`).toBe(0);
      expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(out, files.join(' ')).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('renders only valid Kubernetes objects, once each, with no blank-padded line, for values.yaml and every helm/ci/*.yaml', () => {
    for (const files of [[], ...ciFiles.map((f) => [ciPath(f)])]) {
      const { text, manifests } = render(...files);
      expect(text, files.join(' ')).not.toMatch(/^[ \t]+$/m);
      const ids = manifests.map((m) => `${m.obj.kind}/${m.obj.metadata.name}`);
      expect(new Set(ids).size, ids.join(' ')).toBe(ids.length);
      for (const { source, obj } of manifests) {
        const Model = KINDS[obj.kind];
        if (Model) new Model(obj as never).validate();
        else expect(`${obj.apiVersion} ${obj.kind}`, source).toBe('monitoring.coreos.com/v1 ServiceMonitor');
        expect(obj.metadata.labels['app.kubernetes.io/managed-by'], source).toBe('Helm');
      }
      expect(byKind(manifests, 'Deployment').length + byKind(manifests, 'CronJob').length, 'exactly one workload').toBe(1);
    }
  });

  it('deployment mode: one replica, Recreate, probes, service, PVC, hardened pod, a ServiceMonitor on the Service; no CronJob', () => {
    const m = render(ciPath('deployment-values.yaml')).manifests;
    expect(byKind(m, 'CronJob')).toEqual([]);
    const [dep] = byKind(m, 'Deployment');
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.strategy).toEqual({ type: 'Recreate' });
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(c.args).toEqual(['daemon', '--config', '/etc/convsync/convsync.yaml']);
    expect(c.image).toBe('convsync/convsync:0.1.0');
    expect(c.startupProbe).toEqual({ httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 60 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    // the Service <release>-convsync would otherwise give the pod CONVSYNC_CONVSYNC_SERVICE_HOST and the like
    expect(pod.enableServiceLinks).toBe(false);
    expect(c.volumeMounts.map((v: { mountPath: string }) => v.mountPath)).toEqual(['/etc/convsync', '/var/lib/convsync', '/tmp', '/run/secrets']);
    expect(pod.volumes.find((v: { name: string }) => v.name === 'secrets').secret.secretName).toBe('convsync-secrets');
    expect(dep.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    const [svc] = byKind(m, 'Service');
    expect(svc.spec.ports[0]).toMatchObject({ name: 'http', port: 8080, targetPort: 'http' });
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    expect(byKind(m, 'PersistentVolumeClaim')[0].spec.accessModes).toEqual(['ReadWriteOnce']);
    const [sm] = byKind(m, 'ServiceMonitor');
    expect(sm.metadata.labels.release).toBe('prometheus');
    expect(svc.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(sm.spec.endpoints).toEqual([{ port: svc.spec.ports[0].name, path: '/metrics', interval: '30s' }]);
  });

  it('cronjob mode: Forbid, deadlines, `convsync sync`, the same PVC, no Service; dryRun renders --dry-run on an emptyDir', () => {
    const m = render(ciPath('cronjob-values.yaml')).manifests;
    expect(byKind(m, 'Deployment')).toEqual([]);
    expect(byKind(m, 'Service')).toEqual([]);
    const [cj] = byKind(m, 'CronJob');
    expect(cj.spec).toMatchObject({ schedule: '*/10 * * * *', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300 });
    expect(cj.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 900, ttlSecondsAfterFinished: 86400 });
    const pod = cj.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.containers[0].args).toEqual(['sync', '--config', '/etc/convsync/convsync.yaml']);
    expect(pod.containers[0]).not.toHaveProperty('resources');
    expect(pod.volumes.find((v: { name: string }) => v.name === 'data').persistentVolumeClaim.claimName).toBe('rel-convsync');
    expect(byKind(m, 'PersistentVolumeClaim')[0].spec.storageClassName).toBe('standard');

    // a retry cannot mend held removals (3) or a configuration error (78), whatever backoffLimit says
    expect(cj.spec.jobTemplate.spec.podFailurePolicy.rules).toEqual([
      { action: 'FailJob', onExitCodes: { containerName: 'convsync', operator: 'In', values: [3, 78] } },
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
    ]);

    const dry = render(ciPath('cronjob-dryrun-values.yaml')).manifests;
    const dpod = byKind(dry, 'CronJob')[0].spec.jobTemplate.spec.template.spec;
    expect(dpod.containers[0].args).toEqual(['sync', '--config', '/etc/convsync/convsync.yaml', '--dry-run']);
    expect(dpod.volumes.find((v: { name: string }) => v.name === 'data').emptyDir).toEqual({});
    expect(byKind(dry, 'PersistentVolumeClaim')).toEqual([]);
  });

  it('the optional pod settings: existing claim, pull secret, extra env after the port, scheduling, labels, annotations, name, flags', () => {
    const m = render(ciPath('deployment-extras-values.yaml')).manifests;
    expect(byKind(m, 'PersistentVolumeClaim')).toEqual([]);
    const [dep] = byKind(m, 'Deployment');
    expect(m.map((x) => x.obj.metadata.name)).toEqual(m.map(() => 'chat-sync'));
    const tpl = podOf(dep);
    const pod = tpl.spec;
    const c = pod.containers[0];
    expect(pod.volumes.find((v: { name: string }) => v.name === 'data').persistentVolumeClaim.claimName).toBe('convsync-store');
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry-login' }]);
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'sync', effect: 'NoSchedule' }]);
    expect(tpl.metadata.labels).toMatchObject({ ...dep.spec.selector.matchLabels, team: 'identity' });
    expect(Object.keys(tpl.metadata.annotations).sort()).toEqual(['checksum/config', 'example.com/owner']);
    expect(c.args).toEqual(['daemon', '--config', '/etc/convsync/convsync.yaml', '--set', 'log.level=debug']);
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.env.map((e: { name: string }) => e.name)).toEqual(['CONVSYNC_CONFIG', 'CONVSYNC_SERVER__PORT', 'NODE_EXTRA_CA_CERTS', 'POD_NAME']);
    expect(c.env[1].value).toBe('9090');
    expect(c.ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
    expect(c.volumeMounts.find((v: { name: string }) => v.name === 'secrets').mountPath).toBe('/var/run/convsync-secrets');
    expect(byKind(m, 'Service')[0].spec.ports[0]).toMatchObject({ port: 80, targetPort: 'http' });
  });

  it('every file a helm/ci/*.yaml configuration names under /etc/convsync is in the ConfigMap; extra volumes are mounted', () => {
    for (const f of ciFiles) {
      const [cm] = byKind(render(ciPath(f)).manifests, 'ConfigMap');
      const named = [...(cm.data['convsync.yaml'] as string).matchAll(/\/etc\/convsync\/([^\s,}'"]+)/g)].map((x) => x[1]);
      for (const name of named) expect(Object.keys(cm.data), `${f}: /etc/convsync/${name}`).toContain(name);
    }
    const m = render(ciPath('cronjob-ldap-values.yaml')).manifests;
    expect(byKind(m, 'ConfigMap')[0].data['ldap-ca.pem']).toMatch(/^-----BEGIN CERTIFICATE-----\n.*\n-----END CERTIFICATE-----\n$/s);
    const pod = podOf(byKind(m, 'CronJob')[0]).spec;
    expect(pod.volumes.at(-1)).toEqual({ name: 'corp-ca', configMap: { name: 'corp-ca-bundle' } });
    expect(pod.containers[0].volumeMounts.at(-1)).toEqual({ name: 'corp-ca', mountPath: '/etc/ssl/corp', readOnly: true });
  });

  it('the examples in config/ that name files under /etc/convsync get them through configFiles', () => {
    const examples = readdirSync(exampleDir).filter((f) => readFileSync(join(exampleDir, f), 'utf8').includes('/etc/convsync/'));
    expect(examples.sort()).toEqual(['active-directory.yaml', 'ldap.yaml', 'saml.yaml']);
    for (const f of examples) {
      const { store: _, ...config } = parseYaml(readFileSync(join(exampleDir, f), 'utf8')) as Record<string, unknown>;
      const names = [...JSON.stringify(config).matchAll(/\/etc\/convsync\/([^"]+)/g)].map((x) => x[1]!);
      const configFiles = Object.fromEntries(names.map((n) => [n, `${n} text\n`]));
      const [cm] = byKind(render(valuesFile(`example-${f}`, { config, configFiles })).manifests, 'ConfigMap');
      for (const n of names) expect(cm.data[n], `${f}: ${n}`).toBe(`${n} text\n`);
    }
  });

  it('renders a ConfigMap that convsync itself accepts, for every helm/ci/*.yaml', () => {
    for (const f of ciFiles) {
      const [cm] = byKind(render(ciPath(f)).manifests, 'ConfigMap');
      const file = join(mkdtempSync(join(scratch, 'config-')), 'convsync.yaml');
      writeFileSync(file, cm.data['convsync.yaml']);
      const config = loadConfig({ file, env: {}, checkSecretFiles: false });
      expect(config.store.path, f).toBe('/var/lib/convsync/convsync.db');
      expect(
        config.sources.map((s) => s.name),
        f,
      ).toEqual((ci(f).config as { sources: { name: string }[] }).sources.map((s) => s.name));
    }
  });

  it('a config change rolls the pod (checksum/config), and nothing else does', () => {
    const checksum = (...files: string[]) => {
      const m = render(...files).manifests;
      return podOf([...byKind(m, 'Deployment'), ...byKind(m, 'CronJob')][0]).metadata.annotations['checksum/config'] as string;
    };
    const base = ciPath('deployment-values.yaml');
    expect(checksum(base)).toBe(checksum(base, valuesFile('replay.yaml', {})));
    expect(checksum(base)).toBe(checksum(base, valuesFile('resources.yaml', { resources: { limits: { memory: '1Gi' } } })));
    expect(checksum(base)).not.toBe(checksum(base, valuesFile('schedule.yaml', { config: { schedule: '*/5 * * * *' } })));
  });

  it('refuses, naming the value, everything values.schema.json refuses', () => {
    BAD_VALUES.forEach((bad, i) => {
      const r = helm!.templateRaw([valuesFile(`bad-${i}.yaml`, bad.values)]);
      expect(r.status, JSON.stringify(bad.values)).not.toBe(0);
      expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
      expect(r.stderr).toMatch(bad.names);
      expect(r.stdout).toBe('');
    });
  });
});
