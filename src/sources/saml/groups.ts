import type { SamlSourceConfig } from '../../config/schema.js';
import { regexVars, renderTemplate } from '../../template.js';

/** samlify (like node-saml) gives a one-valued attribute as a string and a many-valued one as an array. */
export function attributeValues(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export interface AssertedGroups {
  /** group ids at this source, sorted, without duplicates */
  keys: string[];
  /** Entra's overage: an overage link and no groups means the groups are unknown, not none */
  unknown: boolean;
  /** values that `groups.match` left out */
  ignored: string[];
}

/** The groups an assertion names, as group ids of the source. */
export function assertedGroups(attributes: Record<string, unknown>, config: SamlSourceConfig['groups']): AssertedGroups {
  const values = attributeValues(attributes[config.attribute]);
  if (values.length === 0 && attributeValues(attributes[config.overageAttribute]).length > 0) return { keys: [], unknown: true, ignored: [] };
  const pattern = config.match !== undefined ? new RegExp(config.match) : undefined;
  const keys = new Set<string>();
  const ignored: string[] = [];
  for (const value of values) {
    const found = pattern ? pattern.exec(value) : [value];
    if (!found) {
      ignored.push(value);
      continue;
    }
    const key = renderTemplate(config.key, regexVars(found));
    if (key === '') ignored.push(value);
    else keys.add(key);
  }
  return { keys: [...keys].sort(), unknown: false, ignored };
}
