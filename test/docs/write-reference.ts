import { readFileSync, writeFileSync } from 'node:fs';
import { configReference } from '../../src/config/reference.js';

/** `npm run docs`: writes the configuration reference generated from the schema into README.md */
export const START = '<!-- config-reference:start (npm run docs writes this table from src/config/schema.ts) -->';
export const END = '<!-- config-reference:end -->';

export function withReference(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error('README.md has no configuration reference markers');
  return `${readme.slice(0, a + START.length)}\n${configReference()}\n${readme.slice(b)}`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const file = new URL('../../README.md', import.meta.url);
  writeFileSync(file, withReference(readFileSync(file, 'utf8')));
}
