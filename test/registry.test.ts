import { readdirSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { backends } from '../src/backends/registry.js';
import { SourceConfig, BackendConfig } from '../src/config/schema.js';
import { sources } from '../src/sources/registry.js';

const folders = (dir: string) =>
  readdirSync(new URL(dir, import.meta.url))
    .filter((f) => statSync(new URL(`${dir}/${f}`, import.meta.url)).isDirectory())
    .sort();

describe('adapter registries', () => {
  it('name every backend folder, and the config schema accepts exactly those types', async () => {
    expect([...backends.keys()].sort()).toEqual(folders('../src/backends'));
    for (const [type, load] of backends) expect((await load()).type).toBe(type);
    expect(BackendConfig.options.map((o) => o.shape.type.value).sort()).toEqual([...backends.keys()].sort());
  });

  it('name every source folder, and the config schema accepts exactly those types', async () => {
    expect([...sources.keys()].sort()).toEqual(folders('../src/sources'));
    for (const [type, load] of sources) expect((await load()).type).toBe(type);
    expect(SourceConfig.options.map((o) => o.shape.type.value).sort()).toEqual([...sources.keys()].sort());
  });
});
