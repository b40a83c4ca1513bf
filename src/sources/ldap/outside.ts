import { describeError } from '../../errors.js';
import { runPool } from '../../pool.js';
import { dnKey, memberDn, values } from './entry.js';
import type { Outside, ReadGroup } from './nested.js';
import { readEntry, type SearchContext } from './paged-search.js';
import { allValues } from './range.js';

const GROUP_CLASSES = new Set(['group', 'groupofnames', 'groupofuniquenames', 'groupofmembers']);

export interface OutsideInput {
  groups: readonly ReadGroup[];
  isUser: (key: string) => boolean;
  memberAttribute: string;
  expandNested: boolean;
  concurrency: number;
  /**
   * what an earlier read found: entries that did not exist or were no users are taken as they
   * were (the next full read looks again); groups are read again, as their members may have moved
   */
  known?: ReadonlyMap<string, Outside>;
}

/**
 * Member DNs that are neither a listed user nor a listed group, each read on its own: a group
 * outside groups.filter (its members followed in turn when nested groups are expanded), an entry
 * that is not a user of this source, one that does not exist, or one that could not be read.
 * Only the entries the groups reach are in the answer.
 */
export async function resolveOutside(ctx: SearchContext, input: OutsideInput): Promise<Map<string, Outside>> {
  const listed = new Set(input.groups.map((g) => g.dnKey));
  const found = new Map<string, Outside>();
  const unknown = (lists: Iterable<readonly string[]>) => {
    const out = new Set<string>();
    for (const list of lists) for (const k of list) if (!input.isUser(k) && !listed.has(k) && !found.has(k)) out.add(k);
    return [...out];
  };
  let pending = unknown(input.groups.map((g) => g.members));
  while (pending.length > 0) {
    const toRead: string[] = [];
    for (const key of pending) {
      const before = input.known?.get(key);
      if (before && before.kind !== 'group' && before.kind !== 'failed') found.set(key, before);
      else toRead.push(key);
    }
    await runPool(toRead, input.concurrency, async (key) => {
      found.set(key, await readOutside(ctx, key, input.memberAttribute));
    });
    if (!input.expandNested) break;
    pending = unknown(
      pending.map((k) => {
        const o = found.get(k);
        return o?.kind === 'group' ? o.members : [];
      }),
    );
  }
  return found;
}

/** one member entry outside the listings, as reading it finds it */
export async function readOutside(ctx: SearchContext, key: string, memberAttribute: string): Promise<Outside> {
  try {
    const entry = await readEntry(ctx, key, ['objectClass', memberAttribute], `member ${key}`);
    if (!entry) return { kind: 'missing' };
    const members = await allValues(ctx, entry, memberAttribute);
    const isGroup = members.length > 0 || values(entry, 'objectClass').some((c) => GROUP_CLASSES.has(c.toLowerCase()));
    return isGroup ? { kind: 'group', dn: entry.dn, members: members.map((m) => dnKey(memberDn(m))) } : { kind: 'not-user' };
  } catch (e) {
    ctx.signal.throwIfAborted();
    return { kind: 'failed', why: describeError(e) };
  }
}
