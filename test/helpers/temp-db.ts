import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Store } from '../../src/store/store.js';

/** a fresh SQLite file path per call, each in its own temp folder, removed after each test */
export function tempDbPaths(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return join(dir, 'convsync.db');
  };
}

/** a list of things to undo (stores to close, folders to remove), undone after each test */
export function cleanupAfterEach(): (() => void)[] {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const f of cleanup.splice(0)) f();
  });
  return cleanup;
}

/**
 * Two stores whose prints share one key (each new store makes its own), so that their rows can be
 * compared: a new store and a copy of it, closed and removed with `cleanup`
 */
export function storesSharingKey(cleanup: (() => void)[]): [Store, Store] {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-twins-'));
  const [a, b] = [join(dir, 'a.db'), join(dir, 'b.db')];
  Store.open(a).close();
  copyFileSync(a, b);
  const stores: [Store, Store] = [Store.open(a), Store.open(b)];
  cleanup.push(
    () => stores.forEach((s) => s.close()),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  return stores;
}
