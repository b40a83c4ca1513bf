import type { SourceConfig } from '../config/schema.js';
import { fileSource } from './file/index.js';
import { ldapSource } from './ldap/index.js';
import { scimSource } from './scim/index.js';
import { samlSource } from './saml/index.js';
import { scimPushSource } from './scim-push/index.js';
import type { Source, SourceAdapter, SourceContext } from './types.js';

/** Every source by its `sources[].type`; a test checks this map against the folders. */
export const sources = new Map<SourceConfig['type'], SourceAdapter<never>>([
  ['scim', scimSource],
  ['file', fileSource],
  ['scim-push', scimPushSource],
  ['saml', samlSource],
  ['ldap', ldapSource],
]);

export function createSource(config: SourceConfig, ctx: SourceContext): Source {
  const adapter = sources.get(config.type) as SourceAdapter<SourceConfig> | undefined;
  if (!adapter) throw new Error(`sources[].type must be one of: ${[...sources.keys()].join(', ')}`);
  return adapter.create(config, ctx);
}
