import { readdirSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { backends } from '../src/backends/registry.js';
import { pino } from 'pino';
import { SourceConfig, BackendConfig, REMOVED_GROUP_ACTIONS } from '../src/config/schema.js';
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

  it('give each backend the calls for what the configuration lets `onGroupRemoved` ask of it', async () => {
    const configs = {
      wire: { type: 'wire', baseUrl: 'https://w.example', email: 'a@b.co', password: 'p' },
      mixin: { type: 'mixin', keystoreFile: './k.json' },
      protocol: { type: 'protocol', baseUrl: 'https://p.example/v1', auth: { type: 'bearer', token: 't' } },
    };
    expect(Object.keys(REMOVED_GROUP_ACTIONS).sort()).toEqual([...backends.keys()].sort());
    for (const [type, load] of backends) {
      const backend = (await load()).create(BackendConfig.parse(configs[type]) as never, { logger: pino({ level: 'silent' }) });
      const actions = REMOVED_GROUP_ACTIONS[type];
      expect({ type, archive: typeof backend.archive === 'function', delete: typeof backend.delete === 'function' }).toEqual({
        type,
        archive: actions.includes('archive'),
        delete: actions.includes('delete'),
      });
      expect(actions).toContain(backend.capabilities.removedGroup);
    }
  });

  it('name every source folder, and the config schema accepts exactly those types', async () => {
    expect([...sources.keys()].sort()).toEqual(folders('../src/sources'));
    for (const [type, load] of sources) expect((await load()).type).toBe(type);
    expect(SourceConfig.options.map((o) => o.shape.type.value).sort()).toEqual([...sources.keys()].sort());
  });
});
