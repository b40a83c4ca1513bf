import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertFreshDist, StaleBuild, staleOutput } from '../helpers/fresh-dist.js';

/** a project tree with these files, each at its own time (seconds after an epoch) */
function tree(files: Record<string, number>): string {
  const root = mkdtempSync(join(tmpdir(), 'convsync-dist-'));
  for (const [path, at] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), '// x\n');
    utimesSync(join(root, path), 1_700_000_000 + at, 1_700_000_000 + at);
  }
  return root;
}

describe('the e2e tests refuse a dist/ older than src/', () => {
  const roots: string[] = [];
  const make = (files: Record<string, number>) => {
    const root = tree(files);
    roots.push(root);
    return root;
  };
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it('accepts a build newer than every source, type declarations and nested folders included', () => {
    const root = make({ 'src/cli.ts': 10, 'src/store/store.ts': 20, 'src/types/x.d.ts': 99, 'dist/cli.js': 30, 'dist/store/store.js': 30 });
    expect(staleOutput(root)).toBeUndefined();
    expect(() => assertFreshDist(root)).not.toThrow();
  });

  it('names the source edited after the build, and says to run npm run build', () => {
    const root = make({ 'src/cli.ts': 10, 'src/store/store.ts': 40, 'dist/cli.js': 30, 'dist/store/store.js': 30 });
    expect(staleOutput(root)).toEqual({ source: join('src', 'store', 'store.ts'), output: join('dist', 'store', 'store.js'), why: 'older' });
    expect(() => assertFreshDist(root)).toThrow(StaleBuild);
    expect(() => assertFreshDist(root)).toThrow(/src\/store\/store\.ts changed after dist\/store\/store\.js was built.*run `npm run build` first/);
  });

  it('names a source that has no output yet, and a tree never built', () => {
    const added = make({ 'src/cli.ts': 10, 'src/ldap.ts': 20, 'dist/cli.js': 30 });
    expect(staleOutput(added)).toEqual({ source: join('src', 'ldap.ts'), output: join('dist', 'ldap.js'), why: 'missing' });
    const never = make({ 'src/cli.ts': 10 });
    expect(() => assertFreshDist(never)).toThrow(/dist\/cli\.js is missing for src\/cli\.ts.*npm run build/);
  });
});
