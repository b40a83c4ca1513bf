import type Database from 'better-sqlite3';

/** numbers that are one person folded into one (`MemberSets.canonicalize`): in every member set, and in who added them */
export function mergeRefs(db: Database.Database, merged: ReadonlyMap<number, number>): void {
  const sets = db.prepare(`SELECT conversation_id, refs FROM member_sets`).raw().all() as [string, string][];
  const isExternal = db.prepare(`SELECT 1 FROM member_origins WHERE conversation_id = ? AND user_ref = ?`).pluck();
  const dropOrigin = db.prepare(`DELETE FROM member_origins WHERE conversation_id = ? AND user_ref = ?`);
  const addExternal = db.prepare(`INSERT INTO member_origins (conversation_id, user_ref, origin) VALUES (?, ?, 'external') ON CONFLICT DO NOTHING`);
  const setRefs = db.prepare(`UPDATE member_sets SET refs = ? WHERE conversation_id = ?`);
  for (const [conversationId, text] of sets) {
    const refs = parseRefs(text);
    if (!refs.some((r) => merged.has(r))) continue;
    const present = new Set(refs);
    for (const old of refs) {
      const keeper = merged.get(old);
      if (keeper === undefined) continue;
      const oldExternal = isExternal.get(conversationId, old) !== undefined;
      if (!present.has(keeper)) {
        // the keeper takes the place of the old form here, and who added them with it
        if (oldExternal) addExternal.run(conversationId, keeper);
      } else if (!oldExternal) {
        // both forms here: added by convsync under either means added by convsync (managed removal applies)
        dropOrigin.run(conversationId, keeper);
      }
    }
    const next = Int32Array.from(new Set(Array.from(refs, (r) => merged.get(r) ?? r))).sort();
    setRefs.run(next.join(','), conversationId);
  }
  for (const old of merged.keys()) {
    db.prepare(`DELETE FROM member_origins WHERE user_ref = ?`).run(old);
    db.prepare(`DELETE FROM user_ids WHERE ref = ?`).run(old);
  }
}

/** "3,17,42" (a row of `member_sets.refs`) → numbers, without a string per number */
export function parseRefs(text: string): Int32Array {
  let count = text.length === 0 ? 0 : 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 44) count++;
  const refs = new Int32Array(count);
  let n = 0;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 44) {
      refs[n++] = v;
      v = 0;
    } else if (ch >= 48 && ch <= 57) v = v * 10 + ch - 48;
    else throw new Error(`member_sets.refs is not a list of numbers: ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (count > 0) refs[n] = v;
  return refs;
}
