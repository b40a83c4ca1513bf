import type { Store } from '../../store/store.js';

/** what every handler of one push source works with; scimmy passes it to its handlers as their context */
export interface PushContext {
  store: Store;
  source: string;
  /** where the source is served: resources' meta.location starts with it */
  path: string;
  /** groups (ids at the source) whose membership or name changed */
  changed: (groupIds: string[]) => void;
}

/** a change to a group (or a user) also changes every group that contains it */
export function withAncestors(ctx: PushContext, ids: string[]): string[] {
  const seen = new Set<string>();
  const queue = [...ids];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const parent of ctx.store.push.groupsOf(ctx.source, id)) {
      if (!seen.has(parent)) {
        seen.add(parent);
        queue.push(parent);
      }
    }
    if (ctx.store.push.group(ctx.source, id)) seen.add(id);
  }
  return [...seen];
}
