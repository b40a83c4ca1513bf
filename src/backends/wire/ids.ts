import type { BackendConversation } from '../types.js';
import type { Conversation } from './contract.js';
import { MLS_GROUP_REMEDY } from './channels.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Qualified {
  id: string;
  domain: string;
}

/**
 * Wire's qualified ids in convsync's one form: lower case, `uuid` on the backend's own domain,
 * `uuid@domain` on another one (federation).
 */
export class WireIds {
  constructor(private readonly ownDomain: () => string | undefined) {}

  /** a user id as given by a source or `guards.protect`; undefined when it cannot be one */
  parse(value: string): string | undefined {
    const [id, domain, ...rest] = value.trim().toLowerCase().split('@');
    if (rest.length > 0 || id === undefined || !UUID.test(id)) return undefined;
    if (domain === undefined || domain === this.ownDomain()) return id;
    return /^[a-z0-9.-]+$/.test(domain) ? `${id}@${domain}` : undefined;
  }

  qualify(id: string): Qualified {
    const [uuid, domain] = id.split('@');
    return { id: uuid!, domain: domain ?? this.ownDomain()! };
  }

  fromQualified(q: Qualified): string {
    const id = q.id.toLowerCase();
    return q.domain.toLowerCase() === this.ownDomain() ? id : `${id}@${q.domain.toLowerCase()}`;
  }

  conversation(c: Conversation): BackendConversation {
    // a channel is MLS and managed over REST; any other MLS conversation is not
    const unmanageable = c.protocol === 'mls' && c.group_conv_type !== 'channel';
    return {
      id: this.fromQualified(c.qualified_id),
      name: c.name ?? '',
      members: c.members.others.map((m) => this.fromQualified(m.qualified_id)),
      ...(c.creator ? { creator: c.creator } : {}),
      kind: c.group_conv_type ?? 'group_conversation',
      ...(unmanageable ? { unmanageable: MLS_GROUP_REMEDY } : {}),
    };
  }
}
