import type { SourceConfig } from '../config/schema.js';
import type { Source, SourceAdapter, SourceContext } from './types.js';

/**
 * Every source by its `sources[].type`, loaded when a configuration names it (a run does not pay
 * for the LDAP, SCIM and SAML libraries it does not use); a test checks this map against the folders.
 */
export const sources = new Map<SourceConfig['type'], () => Promise<SourceAdapter<never>>>([
  ['scim', async () => (await import('./scim/index.js')).scimSource],
  ['file', async () => (await import('./file/index.js')).fileSource],
  ['scim-push', async () => (await import('./scim-push/index.js')).scimPushSource],
  ['saml', async () => (await import('./saml/index.js')).samlSource],
  ['ldap', async () => (await import('./ldap/index.js')).ldapSource],
]);

export async function createSource(config: SourceConfig, ctx: SourceContext): Promise<Source> {
  const load = sources.get(config.type);
  if (!load) throw new Error(`sources[].type must be one of: ${[...sources.keys()].join(', ')}`);
  return ((await load()) as SourceAdapter<SourceConfig>).create(config, ctx);
}
