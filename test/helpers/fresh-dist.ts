import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** dist/ was not built from the src/ on disk, so an e2e test would run old code */
export class StaleBuild extends Error {
  override readonly name = 'StaleBuild';
}

export interface StaleOutput {
  source: string;
  output: string;
  why: 'missing' | 'older';
}

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/** the first src/ file whose dist/ output is missing or older than it (tsc rewrites every output) */
export function staleOutput(root = ROOT): StaleOutput | undefined {
  for (const path of sources(join(root, 'src'))) {
    const rel = relative(join(root, 'src'), path);
    const output = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
    const source = join('src', rel);
    if (!existsSync(output)) return { source, output: relative(root, output), why: 'missing' };
    if (statSync(output).mtimeMs < statSync(path).mtimeMs) return { source, output: relative(root, output), why: 'older' };
  }
  return undefined;
}

const verdicts = new Map<string, StaleBuild | null>();

/** Throws StaleBuild, saying what to run, unless dist/ is at least as new as every file of src/. */
export function assertFreshDist(root = ROOT): void {
  if (!verdicts.has(root)) {
    const stale = staleOutput(root);
    verdicts.set(
      root,
      stale
        ? new StaleBuild(
            `dist/ is older than src/: ${stale.why === 'missing' ? `${stale.output} is missing for ${stale.source}` : `${stale.source} changed after ${stale.output} was built`}. ` +
              'The end-to-end tests run the built CLI (node dist/cli.js); run `npm run build` first (`npm test` builds before it tests).',
          )
        : null,
    );
  }
  const verdict = verdicts.get(root);
  if (verdict) throw verdict;
}
