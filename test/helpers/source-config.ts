import { ConfigSchema, type SourceConfig } from '../../src/config/schema.js';

/**
 * One source's configuration as the schema makes it (defaults filled, every check run), inside the
 * least configuration that holds it: a store, a backend never called, one rule for its groups
 */
export function parsedSource<C extends SourceConfig>(source: { name: string; type: C['type'] } & Record<string, unknown>): C {
  return ConfigSchema.parse({
    store: { path: ':memory:' },
    sources: [source],
    backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9', auth: { type: 'bearer', token: 'unused' } },
    mappings: [{ match: { source: source.name }, name: '{displayName}' }],
  }).sources[0] as C;
}
