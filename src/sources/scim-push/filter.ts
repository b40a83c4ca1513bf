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
  return [...filter].map((branch) => planBranch(kind, branch as Record<string, unknown>, filter.expression));
}

/** a filter string parsed by scimmy (RFC 7644 §3.4.2.2), or a 400 invalidFilter that says why not */
export function parseFilter(text: unknown): SCIMMY.Types.Filter {
  if (typeof text !== 'string' || text.trim() === '')
    throw scimError(400, 'invalidFilter', 'filter must be a non-empty string, e.g. userName eq "alice@example.com"');
  try {
    return new SCIMMY.Types.Filter(text);
  } catch (e) {
    const why = e instanceof SCIMMY.Types.Error ? (e as Error).message : 'expected attribute, operator and value, e.g. userName eq "alice@example.com"';
    throw scimError(400, 'invalidFilter', `the filter ${JSON.stringify(text)} cannot be parsed: ${why}`);
  }
}
