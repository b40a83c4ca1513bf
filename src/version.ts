import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** convsync's version, from the first package.json above this module named convsync: the bundle and tsc's modules sit at different depths */
export const VERSION = findVersion(dirname(fileURLToPath(import.meta.url)));

function findVersion(dir: string): string {
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'convsync' && pkg.version) return pkg.version;
    } catch {
      // none here, or not JSON: look further up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('convsync cannot find its package.json');
    dir = up;
  }
}
