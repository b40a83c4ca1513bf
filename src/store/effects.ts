import type Database from 'better-sqlite3';
import { Statements } from './statements.js';
import type { RemovedGroupAction } from '../plan/types.js';
import type { MemberSets } from './member-sets.js';

const now = () => new Date().toISOString();

/** What a completed op changed, applied to the snapshot in the same transaction as its journal row. */
export type OpEffect =
  | {
      kind: 'created';
      key: string;
      conversationId: string;
      name: string;
      ownerId: string;
      backend: string;
      /** members put in by convsync; `external` ones were already there (adoption) */
      members: string[];
      external?: string[];
      groups: string[];
      onGroupRemoved: RemovedGroupAction;
    }
  | { kind: 'added'; conversationId: string; members: string[]; external?: string[] }
  | { kind: 'removed'; conversationId: string; members: string[] }
  | { kind: 'renamed'; conversationId: string; name: string }
  | { kind: 'unbound'; key: string }
  /** bound again to the conversation it had (under `fromKey` when the key changed), whose members are now these */
  | { kind: 'rebound'; key: string; fromKey?: string; conversationId: string; members: string[] }
  /** deleted or archived on the backend: never managed again */
  | { kind: 'deleted'; key: string }
  /** a user made on the backend (a Protocol contact), remembered like a lookup */
  | { kind: 'identified'; lookup: string; userId: string }
  | { kind: 'none' };

/** Writes what a completed op or a refresh changed into the snapshot (bindings, members, leavers). */
export class SnapshotWriter {
  private readonly sql: Statements;

  constructor(
    private readonly db: Database.Database,
    private readonly members: MemberSets,
  ) {
    this.sql = new Statements(db);
  }

  apply(effect: OpEffect): void {
    const t = now();
    switch (effect.kind) {
      case 'created':
        this.created(effect, t);
        break;
      case 'added': {
        this.members.edit(effect.conversationId, { add: effect.members, origin: 'convsync' });
        if (effect.external?.length) this.members.edit(effect.conversationId, { add: effect.external, origin: 'external' });
        const del = this.sql.get(`DELETE FROM leavers WHERE conversation_id = ? AND user_id = ?`);
        for (const m of effect.members) del.run(effect.conversationId, m);
        break;
      }
      case 'removed':
        this.members.edit(effect.conversationId, { remove: effect.members });
        break;
      case 'renamed':
        this.sql.get(`UPDATE bindings SET name = ?, updated_at = ? WHERE conversation_id = ? AND state = 'bound'`).run(effect.name, t, effect.conversationId);
        break;
      case 'unbound':
        // members kept: a rebind starts from them
        this.sql.get(`UPDATE bindings SET state = 'unbound', updated_at = ? WHERE key = ? AND state = 'bound'`).run(t, effect.key);
        break;
      case 'rebound':
        this.rebound(effect, t);
        break;
      case 'deleted': {
        const row = this.sql.get(`SELECT conversation_id FROM bindings WHERE key = ?`).get(effect.key) as { conversation_id: string } | undefined;
        this.sql.get(`UPDATE bindings SET state = 'deleted', updated_at = ? WHERE key = ?`).run(t, effect.key);
        if (row) this.members.clear(row.conversation_id);
        break;
      }
      case 'identified':
        this.sql
          .get(
            `INSERT INTO identity_cache (lookup, backend_user_id, resolved_at) VALUES (?, ?, ?)
             ON CONFLICT (lookup) DO UPDATE SET backend_user_id = excluded.backend_user_id, resolved_at = excluded.resolved_at`,
          )
          .run(effect.lookup, effect.userId, t);
        break;
      case 'none':
        break;
    }
  }

  private created(effect: Extract<OpEffect, { kind: 'created' }>, t: string): void {
    // the key's earlier conversation (moved to a channel, or deleted and made again) keeps a row of
    // its own: no later look for a lost create takes it for one convsync just made
    const replaced = this.sql
      .get(`SELECT conversation_id FROM bindings WHERE key = ? AND conversation_id <> ?`)
      .pluck()
      .get(effect.key, effect.conversationId) as string | undefined;
    if (replaced !== undefined) {
      this.sql
        .get(`UPDATE bindings SET key = 'replaced:' || key || ':' || conversation_id, state = 'deleted', updated_at = ? WHERE key = ?`)
        .run(t, effect.key);
      this.members.clear(replaced);
      // who left the old one on their own is not added to the new one either
      this.sql.get(`UPDATE OR IGNORE leavers SET conversation_id = ? WHERE conversation_id = ?`).run(effect.conversationId, replaced);
      this.sql.get(`DELETE FROM leavers WHERE conversation_id = ?`).run(replaced);
    }
    this.sql
      .get(
        `INSERT INTO bindings (key, conversation_id, owner_id, backend, name, groups, on_group_removed, state, created_at, updated_at)
         VALUES (@key, @conversationId, @ownerId, @backend, @name, @groups, @onGroupRemoved, 'bound', @t, @t)
         ON CONFLICT (key) DO UPDATE SET conversation_id = excluded.conversation_id, owner_id = excluded.owner_id,
           backend = excluded.backend, name = excluded.name, groups = excluded.groups,
           on_group_removed = excluded.on_group_removed, state = 'bound', updated_at = excluded.updated_at`,
      )
      .run({ ...effect, groups: JSON.stringify(effect.groups), t });
    this.sql.get(`DELETE FROM gone WHERE binding_key = ?`).run(effect.key);
    this.members.clear(effect.conversationId);
    this.members.edit(effect.conversationId, { add: effect.members, origin: 'convsync' });
    this.members.edit(effect.conversationId, { add: effect.external ?? [], origin: 'external' });
  }

  private rebound(effect: Extract<OpEffect, { kind: 'rebound' }>, t: string): void {
    if (effect.fromKey !== undefined && effect.fromKey !== effect.key) {
      this.sql
        .get(`UPDATE bindings SET key = 'replaced:' || key || ':' || conversation_id, state = 'deleted', updated_at = ? WHERE key = ?`)
        .run(t, effect.key);
      this.sql
        .get(`UPDATE bindings SET key = ?, updated_at = ? WHERE key = ? AND conversation_id = ?`)
        .run(effect.key, t, effect.fromKey, effect.conversationId);
      // what guards held back in it stays held under its new key, until the run that held it is approved
      this.sql.get(`UPDATE OR IGNORE held_ops SET key = ? WHERE key = ?`).run(effect.key, effect.fromKey);
      this.sql.get(`DELETE FROM held_ops WHERE key = ?`).run(effect.fromKey);
    }
    this.sql.get(`UPDATE bindings SET state = 'bound', updated_at = ? WHERE key = ? AND conversation_id = ?`).run(t, effect.key, effect.conversationId);
    const now = new Set(effect.members);
    const kept = this.members.idsOf(effect.conversationId);
    // who joined while it was let go was not added by convsync
    this.members.edit(effect.conversationId, { add: effect.members, origin: 'external', remove: kept.filter((m) => !now.has(m)) });
  }

  /** what a read or a refused change says about whether the conversation can still be managed (null: it can) */
  markUnmanageable(conversationId: string, reason: string | null): void {
    this.sql.get(`UPDATE bindings SET unmanageable = ?, updated_at = ? WHERE conversation_id = ? AND state = 'bound'`).run(reason, now(), conversationId);
  }
}
