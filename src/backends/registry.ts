import { ConfigError } from '../config/load.js';
import type { BackendConfig } from '../config/schema.js';
import type { Backend, BackendAdapter, BackendContext } from './types.js';

/** Every backend by its `backend.type`, loaded when the configuration names it; a test checks this map against the folders. */
export const backends = new Map<BackendConfig['type'], () => Promise<BackendAdapter<never>>>([
  ['wire', async () => (await import('./wire/index.js')).wireBackend],
  ['protocol', async () => (await import('./protocol/index.js')).protocolBackend],
  ['mixin', async () => (await import('./mixin/index.js')).mixinBackend],
]);

export async function createBackend(config: BackendConfig, ctx: BackendContext): Promise<Backend> {
  const load = backends.get(config.type);
  if (!load) throw new Error(`backend.type must be one of: ${[...backends.keys()].join(', ')}`);
  const adapter = (await load()) as BackendAdapter<BackendConfig>;
  // a file it cannot use (a keystore that is no keystore) is a configuration error for a run as for `validate`
  const issues = adapter.fileIssues?.(config) ?? [];
  if (issues.length > 0) throw new ConfigError(issues);
  return adapter.create(config, ctx);
}

/** what the backend finds wrong in the files its configuration names (`convsync validate`) */
export async function backendFileIssues(config: BackendConfig): Promise<{ path: string; message: string }[]> {
  const adapter = (await backends.get(config.type)?.()) as BackendAdapter<BackendConfig> | undefined;
  return adapter?.fileIssues?.(config) ?? [];
}
