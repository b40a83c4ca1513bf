import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** where scripts/fetch-helm.sh puts the pinned Helm */
const FETCHED = join(ROOT, '.cache', 'bin', 'helm');
export const HOW_TO_GET_HELM = 'Run `bash scripts/fetch-helm.sh` (puts Helm at .cache/bin/helm), or set HELM=/path/to/helm';

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** one rendered manifest and the template it came from */
export interface Manifest {
  source: string;
  obj: Record<string, any>;
}

function version(bin: string): string | undefined {
  const r = spawnSync(bin, ['version', '--template', '{{.Version}}'], { encoding: 'utf8' });
  return r.status === 0 && /^v\d+\./.test(r.stdout) ? r.stdout.trim() : undefined;
}

/** Helm 3 or later from $HELM, .cache/bin/helm or PATH, in that order; or why there is none */
export function findHelm(): { bin: string; version: string } | { missing: string } {
  const wanted = process.env.HELM;
  const candidates = wanted ? [wanted] : existsSync(FETCHED) ? [FETCHED] : ['helm'];
  const bin = candidates[0]!;
  const v = version(bin);
  if (!v)
    return {
      missing: wanted
        ? `HELM=${wanted} does not run \`helm version\``
        : existsSync(FETCHED)
          ? `${FETCHED} does not run`
          : 'no helm at .cache/bin/helm nor on PATH',
    };
  if (Number(/^v(\d+)/.exec(v)![1]) < 3) return { missing: `${bin} is Helm ${v}; the chart needs Helm 3 or later` };
  return { bin, version: v };
}

export class Helm {
  private readonly env: NodeJS.ProcessEnv;

  /** `home` keeps Helm's own settings, plugins and repositories out of the tests */
  constructor(
    readonly bin: string,
    private readonly chartDir: string,
    home: string,
  ) {
    this.env = { ...process.env, HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data') };
  }

  run(args: string[]): HelmResult {
    const r = spawnSync(this.bin, args, { encoding: 'utf8', env: this.env, timeout: 30_000 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  lint(valuesFiles: string[] = []): HelmResult {
    return this.run(['lint', '--strict', this.chartDir, ...valuesFiles.flatMap((f) => ['-f', f])]);
  }

  /** `helm template`, which also checks the values against values.schema.json */
  templateRaw(valuesFiles: string[], release = 'rel'): HelmResult {
    return this.run(['template', release, this.chartDir, '--namespace', 'default', ...valuesFiles.flatMap((f) => ['-f', f])]);
  }

  /** every manifest `helm template` renders; a failed render throws with Helm's own message */
  template(valuesFiles: string[], release = 'rel'): { text: string; manifests: Manifest[] } {
    const r = this.templateRaw(valuesFiles, release);
    if (r.status !== 0) throw new Error(`helm template ${valuesFiles.join(' ')} failed: ${r.stderr}`);
    const manifests: Manifest[] = [];
    for (const doc of r.stdout.split(/^---$/m)) {
      const source = /^# Source: (.+)$/m.exec(doc)?.[1];
      const obj = parseYaml(doc, { strict: true, uniqueKeys: true }) as Record<string, any> | null;
      if (!obj) continue;
      if (!source) throw new Error(`a manifest without its "# Source:" line:\n${doc}`);
      manifests.push({ source, obj });
    }
    return { text: r.stdout, manifests };
  }
}
