import * as z from 'zod';
import { ConfigSchema } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  format?: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(n: JsonSchema): string {
  if (n.const !== undefined) return `\`${JSON.stringify(n.const)}\``;
  if (n.enum) return n.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (n.format === 'uri') return 'URL';
  if (n.format) return n.format;
  if (n.type === 'array') return `${n.items ? typeOf(n.items) : 'any'}[]`;
  if (n.anyOf) return n.anyOf.map(typeOf).join(' or ');
  return Array.isArray(n.type) ? n.type.join(' or ') : (n.type ?? 'any');
}

/**
 * The configuration reference (a Markdown table) generated from the one schema: every key with its
 * type, default and description. A key without a description is an error, so the reference cannot
 * silently fall behind the schema.
 */
export function configReference(): string {
  const root = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: string[] = [];
  const walk = (node: JsonSchema, path: string, required: boolean) => {
    if (node.oneOf) {
      for (const variant of node.oneOf) {
        const type = variant.properties?.type?.const;
        walk({ ...variant, description: node.description }, type === undefined ? path : `${path} (type ${String(type)})`, required);
      }
      return;
    }
    const isObject = node.type === 'object' && node.properties;
    const isList = node.type === 'array' && node.items?.type === 'object';
    if (!node.description) throw new Error(`configuration key ${path} has no description in src/config/schema.ts`);
    if (isObject) {
      for (const [key, child] of Object.entries(node.properties!)) walk(child, path ? `${path}.${key}` : key, node.required?.includes(key) ?? false);
      return;
    }
    if (isList || (node.type === 'array' && node.items?.oneOf)) {
      rows.push(`| \`${path}\` | list | ${required ? 'required' : '—'} | ${cell(node.description)} |`);
      walk({ ...node.items!, description: node.description }, `${path}[]`, true);
      return;
    }
    const def = node.default !== undefined ? `\`${JSON.stringify(node.default)}\`` : required ? 'required' : '—';
    rows.push(`| \`${path}\` | ${typeOf(node)} | ${def} | ${cell(node.description)} |`);
  };
  for (const [key, child] of Object.entries(root.properties!)) walk(child, key, root.required?.includes(key) ?? false);
  return ['| key | type | default | description |', '|---|---|---|---|', ...rows].join('\n');
}
