import type { BackendConfig } from '../config/schema.js';
import type { Backend, BackendAdapter, BackendContext } from './types.js';
import { mixinBackend } from './mixin/index.js';
import { protocolBackend } from './protocol/index.js';
import { wireBackend } from './wire/index.js';

/** Every backend by its `backend.type`; a test checks this map against the folders. */
export const backends = new Map<BackendConfig['type'], BackendAdapter<never>>([
  ['wire', wireBackend],
  ['protocol', protocolBackend],
  ['mixin', mixinBackend],
]);

export function createBackend(config: BackendConfig, ctx: BackendContext): Backend {
  const adapter = backends.get(config.type) as BackendAdapter<BackendConfig> | undefined;
  if (!adapter) throw new Error(`backend.type must be one of: ${[...backends.keys()].join(', ')}`);
  return adapter.create(config, ctx);
}
