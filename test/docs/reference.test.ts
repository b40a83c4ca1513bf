import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withReference } from './write-reference.js';

describe('configuration reference', () => {
  it('README.md holds exactly the reference generated from the schema (npm run docs)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(withReference(readme) === readme, 'README.md is out of date: run `npm run docs`').toBe(true);
  });
});
