import SCIMMY from 'scimmy';
import { scimError } from './errors.js';
import type { ResourceKind } from './format.js';

/** attributes a look-up can start from: each has an index in the store */
export type IndexedAttribute = 'userName' | 'id' | 'displayName' | 'externalId' | 'emails.value' | 'members.value';

/**
 * One alternative (`or` branch) of a filter: one indexed look-up finds the few resources it can
 * match, then the rest of the branch is checked on those alone.
 */
export interface FilterBranch {
  lookup: { attribute: IndexedAttribute; value: string };
  /** group filters: ids that must all be direct members (checked by index, members are never built) */
  members: string[];
  /** what is left of the branch, checked by scimmy on each resource found */
  rest?: SCIMMY.Types.Filter;
}

const INDEXED: Record<ResourceKind, Record<string, IndexedAttribute>> = {
  User: { username: 'userName', id: 'id', externalid: 'externalId' },
  Group: { displayname: 'displayName', id: 'id', externalid: 'externalId' },
};
/** userName first: its look-up ignores case (as its uniqueness does), so it must not be checked again exactly */
const PREFERENCE: IndexedAttribute[] = ['userName', 'id', 'displayName', 'externalId', 'emails.value', 'members.value'];
const ANCHORS: Record<ResourceKind, string> = {
  User: 'userName, id, externalId or emails.value',
  Group: 'displayName, id, externalId or members.value',
};
const CORE_URN = /^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i;

type Eq = ['eq', string];
const isEq = (c: unknown): c is Eq => Array.isArray(c) && c.length === 2 && c[0] === 'eq' && typeof c[1] === 'string';
const isObject = (c: unknown): c is Record<string, unknown> => typeof c === 'object' && c !== null && !Array.isArray(c);
/** the conditions scimmy joined by `and` on one attribute: one comparison, or a list of them */
const conditions = (e: unknown): unknown[] => (Array.isArray(e) && e.some((c) => Array.isArray(c) || isObject(c)) ? e : [e]);
const subAttribute = (o: Record<string, unknown>, name: string) => Object.entries(o).find(([k]) => k.toLowerCase() === name)?.[1];

/** `members eq "u"`, `members.value eq "u"`, `members[value eq "u"]`, and several of them joined by `and` */
function memberValues(expr: unknown): string[] | undefined {
  const values: string[] = [];
  for (const c of conditions(expr)) {
    if (isEq(c)) values.push(c[1]);
    else if (isObject(c) && Object.keys(c).length === 1 && subAttribute(c, 'value') !== undefined) {
      for (const v of conditions(subAttribute(c, 'value'))) {
        if (!isEq(v)) return undefined;
        values.push(v[1]);
      }
    } else return undefined;
  }
  return values;
}

/** the first `eq` of a string an attribute is compared with, if any */
function eqValue(kind: ResourceKind, name: string, expr: unknown): { attribute: IndexedAttribute; eq: Eq } | undefined {
  const attribute = INDEXED[kind][name];
  if (attribute) {
    const eq = conditions(expr).find(isEq);
    return eq && { attribute, eq };
  }
  if (kind === 'User' && name === 'emails') {
    for (const c of conditions(expr)) {
      const eq = isObject(c) ? conditions(subAttribute(c, 'value')).find(isEq) : undefined;
      if (eq) return { attribute: 'emails.value', eq };
    }
  }
  return undefined;
}

function without(expr: unknown, condition: unknown): unknown {
  const left = conditions(expr).filter((c) => c !== condition);
  return left.length === 0 ? undefined : left.length === 1 ? left[0] : left;
}

function planBranch(kind: ResourceKind, branch: Record<string, unknown>, expression: string): FilterBranch {
  const rest: Record<string, unknown> = {};
  const members: string[] = [];
  const found = new Map<IndexedAttribute, { key: string; eq: Eq }>();
  for (const [key, expr] of Object.entries(branch)) {
    const name = key.replace(CORE_URN, '').toLowerCase();
    if (kind === 'Group' && name === 'members') {
      const values = memberValues(expr);
      if (!values)
        throw scimError(
          400,
          'invalidFilter',
          `members can be filtered only by their value with eq, e.g. members[value eq "<id>"] (in ${JSON.stringify(expression)})`,
        );
      members.push(...values);
      continue;
    }
    rest[key] = expr;
    const anchor = eqValue(kind, name, expr);
    if (anchor && !found.has(anchor.attribute)) found.set(anchor.attribute, { key, eq: anchor.eq });
  }
  if (members.length > 0) found.set('members.value', { key: 'members', eq: ['eq', members[0]!] });
  const attribute = PREFERENCE.find((a) => found.has(a));
  if (!attribute) {
    throw scimError(
      400,
      'invalidFilter',
      `the filter ${JSON.stringify(expression)} is not supported: each alternative must compare ${ANCHORS[kind]} with eq ` +
        `(e.g. ${kind === 'User' ? 'userName eq "alice@example.com"' : 'displayName eq "Engineering"'}), other conditions may be added with and`,
    );
  }
  const { key, eq } = found.get(attribute)!;
  // the look-up compared it already; an email's other sub-attributes (type) stay to be checked
  if (attribute !== 'emails.value' && attribute !== 'members.value') {
    const left = without(rest[key], eq);
    if (left === undefined) delete rest[key];
    else rest[key] = left;
  }
  return { lookup: { attribute, value: eq[1] }, members, ...(Object.keys(rest).length > 0 ? { rest: new SCIMMY.Types.Filter(rest) } : {}) };
}

/**
 * How a parsed filter is answered from the store's indexes: one look-up per `or` branch. A filter
 * no index can start from (`active eq true`, `displayName co "x"`) is refused with 400
 * invalidFilter rather than answered by reading every resource.
 */
export function planFilter(kind: ResourceKind, filter: SCIMMY.Types.Filter): FilterBranch[] {
  const expression = filterText.get(filter) ?? filter.expression;
  return [...filter].map((branch) => planBranch(kind, branch as Record<string, unknown>, expression));
}

/** the text a filter rebuilt from its parsed form (escaped string values decoded) was given as */
const filterText = new WeakMap<SCIMMY.Types.Filter, string>();
/** a JSON string literal of a filter (RFC 7644 §3.4.2.2: compValue is a JSON string), escapes included */
const STRING_LITERAL = /"(?:[^"\\]|\\.)*"/g;
const placeholder = (n: number) => `\u0001${n}\u0001`;
const PLACEHOLDER = /^\u0001(\d+)\u0001$/;

/** the parsed form with each placeholder replaced by the string value it stands for */
function restore(node: unknown, values: string[]): unknown {
  if (typeof node === 'string') {
    const m = PLACEHOLDER.exec(node);
    return m ? values[Number(m[1])] : node;
  }
  if (Array.isArray(node)) return node.map((n) => restore(n, values));
  if (typeof node === 'object' && node !== null && Object.getPrototypeOf(node) === Object.prototype)
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, restore(v, values)]));
  return node;
}

/**
 * scimmy's lexer takes a string value up to the first `"` and keeps its escapes as written: a value
 * with `\"` cannot be parsed, one with `\\` is compared with two backslashes. Each string value is
 * decoded here as the JSON string it is and stands in scimmy's parse as a placeholder.
 */
function parseEscaped(text: string): SCIMMY.Types.Filter {
  if (!text.includes('\\')) return new SCIMMY.Types.Filter(text);
  const values: string[] = [];
  const masked = text.replace(STRING_LITERAL, (literal) => {
    let value: string;
    try {
      value = JSON.parse(literal) as string;
    } catch {
      // a control character JSON refuses: the text between the quotes, as scimmy would take it
      value = literal.slice(1, -1);
    }
    values.push(value);
    return `"${placeholder(values.length - 1)}"`;
  });
  let parsed: SCIMMY.Types.Filter;
  try {
    parsed = new SCIMMY.Types.Filter(masked);
  } catch (e) {
    // scimmy's own words about the text as given, when it has any
    new SCIMMY.Types.Filter(text);
    throw e;
  }
  const filter = new SCIMMY.Types.Filter([...parsed].map((branch) => restore(branch, values)) as never);
  filterText.set(filter, text);
  return filter;
}

/**
 * scimmy turns a filter into its alternatives before anything reads it: n groups of two joined by
 * `and` are 2^n of them (16 in 727 characters held the event loop 15 s). `or` at the top level
 * adds one each; inside a group they multiply, and are bounded.
 */
const MAX_NESTED_OR = 8;

/** how many `or` stand inside parentheses or brackets, outside string values */
function nestedAlternatives(text: string): number {
  let depth = 0;
  let count = 0;
  const unquoted = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const m of unquoted.matchAll(/[()[\]]|\bor\b/gi)) {
    if (m[0] === '(' || m[0] === '[') depth++;
    else if (m[0] === ')' || m[0] === ']') depth = Math.max(0, depth - 1);
    else if (depth > 0) count++;
  }
  return count;
}

/** a filter string parsed by scimmy (RFC 7644 §3.4.2.2), or a 400 invalidFilter that says why not */
export function parseFilter(text: unknown): SCIMMY.Types.Filter {
  if (typeof text !== 'string' || text.trim() === '')
    throw scimError(400, 'invalidFilter', 'filter must be a non-empty string, e.g. userName eq "alice@example.com"');
  if (nestedAlternatives(text) > MAX_NESTED_OR)
    throw scimError(
      400,
      'invalidFilter',
      `the filter has more than ${MAX_NESTED_OR} "or" inside parentheses or brackets: each alternative must compare one indexed attribute with eq, e.g. userName eq "a" or userName eq "b"`,
    );
  try {
    return parseEscaped(text);
  } catch (e) {
    const why = e instanceof SCIMMY.Types.Error ? (e as Error).message : 'expected attribute, operator and value, e.g. userName eq "alice@example.com"';
    throw scimError(400, 'invalidFilter', `the filter ${JSON.stringify(text)} cannot be parsed: ${why}`);
  }
}
