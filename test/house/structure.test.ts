import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importsOf, lineCount, longFunctions, sourceFiles } from '../helpers/house.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const files = sourceFiles(root, 'src').filter((f) => !f.startsWith('src/sandbox/'));
const folder = (f: string) => f.split('/')[1]!.replace(/\.ts$/, '');

/** what each folder of src/ may not import at run time (DESIGN §2: imports go one way) */
const NEVER: Record<string, string[]> = {
  plan: ['store', 'backends', 'sources', 'reconcile', 'server', 'daemon', 'cli', 'identity', 'mapping'],
  backends: ['store', 'reconcile', 'sources', 'server', 'daemon', 'cli', 'plan', 'mapping', 'identity'],
  store: ['reconcile', 'sources', 'backends', 'server', 'daemon', 'cli', 'identity', 'mapping'],
  sources: ['reconcile', 'server', 'daemon', 'cli', 'mapping', 'plan', 'backends'],
  server: ['reconcile', 'daemon', 'cli'],
  reconcile: ['server', 'daemon', 'cli'],
  members: ['store', 'reconcile', 'sources', 'backends', 'plan', 'server', 'daemon', 'cli'],
  http: ['store', 'reconcile', 'sources', 'backends', 'plan', 'server', 'daemon', 'cli'],
};

describe('the house rules of src/ (outside sandbox/)', () => {
  it('no file over 300 lines and no function over 80', () => {
    const big = files.map((f) => [f, lineCount(`${root}/${f}`)] as const).filter(([, n]) => n > 300);
    const long = files.flatMap((f) => longFunctions(`${root}/${f}`, 80).map((l) => `${f}: ${l.name} (${l.lines} lines)`));
    expect(big).toEqual([]);
    expect(long).toEqual([]);
  });

  it('no import runs upward', () => {
    const upward: string[] = [];
    for (const f of files) {
      for (const imp of importsOf(root, f)) {
        if (imp.typeOnly || !imp.to.startsWith('src/')) continue;
        if ((NEVER[folder(f)] ?? []).includes(folder(imp.to))) upward.push(`${f} → ${imp.to}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('no import circle', () => {
    const graph = new Map(
      files.map((f) => [
        f,
        importsOf(root, f)
          .filter((i) => !i.typeOnly)
          .map((i) => i.to),
      ]),
    );
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        circles.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(circles).toEqual([]);
  });
});
