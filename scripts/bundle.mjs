// `npm run build`, after tsc: dist/cli.js becomes one bundle of convsync and the dependencies every
// command loads (zod, yaml, undici, pino), split at the lazy imports into dist/chunks/. A CLI run
// then opens a handful of files instead of several hundred: the module loading was most of a
// no-op `convsync sync`. The other dependencies stay in node_modules: native (better-sqlite3),
// WebAssembly or files found beside their code (SAML), or loaded by the daemon only.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLED = new Set(['zod', 'yaml', 'undici', 'pino']);
const { dependencies } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const external = Object.keys(dependencies).filter((d) => !BUNDLED.has(d));

// the entry must be tsc's output: a bundle bundled again would import the chunks removed below
if (readFileSync('dist/cli.js', 'utf8').includes('./chunks/')) {
  console.error('bundle: dist/cli.js is already a bundle; run `npm run build` (tsc first, then this script)');
  process.exit(1);
}
rmSync('dist/chunks', { recursive: true, force: true });
await build({
  // the daemon's run thread (src/daemon-worker.ts) is an entry of its own, sharing the chunks
  entryPoints: [
    { in: 'dist/cli.js', out: 'cli' },
    { in: 'dist/daemon-worker.js', out: 'daemon-worker' },
  ],
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  sourcemap: 'linked',
  logLevel: 'warning',
  // the bundled CommonJS dependencies call require() and read __dirname, which an ES module lacks
  banner: {
    js: [
      "import { createRequire as __createRequire } from 'node:module';",
      "import { dirname as __pathDirname } from 'node:path';",
      "import { fileURLToPath as __fileURLToPath } from 'node:url';",
      'const require = __createRequire(import.meta.url);',
      'const __filename = __fileURLToPath(import.meta.url);',
      'const __dirname = __pathDirname(__filename);',
    ].join(' '),
  },
});
