import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';

export interface BackendCapabilities {
  /** most members a conversation may have, the daemon included when it is a member (undefined: no limit) */
  maxMembers: number | undefined;
  /** the daemon's own user is a member of the conversations it manages (Wire, Mixin: yes; Protocol: no) */
  selfIsMember?: boolean;
  /** longest conversation name the backend takes, in characters (Unicode code points); undefined: no known limit */
  maxNameLength?: number;
  /** users per add call */
  addBatch: number;
  /** users per remove call */
  removeBatch: number;
  /** what happens by default to a conversation whose groups are gone (mappings may say otherwise) */
  removedGroup: 'keep' | 'archive' | 'delete';
  /**
   * Conversations say who created them: a create whose answer was lost adopts only one made by
   * the daemon's own user. Without it (Protocol: the API token is the account) adoption rests on
   * the name, the creation time and no binding ever made to it.
   */
  reportsCreator?: boolean;
  /** the kind of conversation `create` makes, when the backend has several (Wire: `channel` in channel mode) */
  createsKind?: string;
  /** error labels by which the backend refuses one user of a batch (Wire: `not-connected`, …) */
  refusedUserLabels?: readonly string[];
  /**
   * ids are checked with `knownUsers` before they are sent, because the backend drops unknown
   * ones silently (Mixin, unless `verifyUsers: false`): unknown ids are reported instead
   */
  verifyUserIds?: boolean;
  /** handles per `lookupHandles` call (default 100); a backend that reads its whole user list per call (Protocol) takes them all at once */
  lookupBatch?: number;
}

/** A conversation as the backend reports it. `members` never includes the daemon itself. */
export interface BackendConversation {
  id: string;
  name: string;
  members: string[];
  /** the backend user id of whoever created it, when the backend says */
  creator?: string;
  /** when it was created (ms since the epoch), when the backend says */
  createdAt?: number;
  /** the identifier a prepared create left on it (Protocol: in its description) */
  marker?: string;
  /** the backend's kind of conversation, when it has several (Wire: `group_conversation`, `channel`) */
  kind?: string;
  /** why convsync cannot change its members any more (a Wire group migrated to MLS), with the remedy */
  unmanageable?: string;
}

/** secrets a backend renews and must not lose (Wire's login cookie), kept in the store */
export interface CredentialStore {
  get(name: string): { value: string; origin: string } | undefined;
  /** one atomic write: a crash leaves the old value or the new one */
  put(name: string, value: string, origin: string): void;
}

/** what a backend needs to make a missing user (a Protocol contact) */
export interface NewUser {
  handle: string;
  phone: string;
  displayName?: string;
}

export interface Whoami {
  userId: string;
  displayName?: string;
}

/**
 * One chat backend. Every method may throw the typed errors of `src/errors.ts`; none of them
 * touches the store (the reconciler records what they did).
 */
export interface Backend {
  readonly id: string;
  readonly capabilities: BackendCapabilities;
  /** the backend's user id syntax: a normalised id, or undefined when the value cannot be one */
  parseUserId(value: string): string | undefined;
  /** names the id form parseUserId writes once the backend answered (Wire: with its domain): ids stored in another form are rewritten */
  idForm?(): string;
  whoami(signal?: AbortSignal): Promise<Whoami>;
  /**
   * For backends whose create must be repeated with the same identifiers after a crash (Mixin's
   * derived conversation_id and random_id): what the reconciler journals before the call.
   */
  prepareCreate?(input: { name: string; members: string[] }): Record<string, string>;
  create(input: { name: string; members: string[]; prepared?: Record<string, string> }, signal?: AbortSignal): Promise<BackendConversation>;
  /** undefined when the conversation does not exist (or no longer has the daemon in it) */
  get(conversationId: string, signal?: AbortSignal): Promise<BackendConversation | undefined>;
  /** group conversations the daemon is in (not every API can list them) */
  list?(signal?: AbortSignal): Promise<BackendConversation[]>;
  /** the subset of user ids the backend knows (for backends that silently drop unknown ids) */
  knownUsers?(ids: string[], signal?: AbortSignal): Promise<Set<string>>;
  /** returns who was actually added (already-present members are not an error) */
  addMembers(conversationId: string, members: string[], signal?: AbortSignal): Promise<{ added: string[] }>;
  removeMembers(conversationId: string, members: string[], signal?: AbortSignal): Promise<{ removed: string[] }>;
  rename(conversationId: string, name: string, signal?: AbortSignal): Promise<void>;
  delete?(conversationId: string, signal?: AbortSignal): Promise<void>;
  archive?(conversationId: string, signal?: AbortSignal): Promise<void>;
  /**
   * Several changes to one conversation in one call, for backends whose API sets membership as a
   * whole (Protocol: one PUT with the full list). When present, the reconciler uses it instead of
   * separate rename/add/remove calls.
   */
  updateConversation?(conversationId: string, change: { name?: string; add: string[]; remove: string[] }, signal?: AbortSignal): Promise<void>;
  /** handles → backend user ids (null: no such user); batched as the backend allows; a read */
  lookupHandles?(handles: string[], signal?: AbortSignal): Promise<Map<string, string | null>>;
  /**
   * For a handle no user has: what this backend would make for it (Protocol, with
   * `contacts.create` and a phone number), or undefined when it makes no users.
   */
  newUser?(handle: string, details: { phone?: string; displayName?: string }): NewUser | undefined;
  /** makes a user and returns its id: a planned op, never reached in a dry run */
  createUser?(user: NewUser, signal?: AbortSignal): Promise<string>;
  /** checks that the identity may do what the configured mode needs, with what to change otherwise */
  preflight?(signal?: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

export interface BackendContext {
  dispatcher?: Dispatcher;
  logger: Logger;
  /** counts each HTTP answer, for metrics */
  onResponse?: (status: number) => void;
  credentials?: CredentialStore;
  /**
   * The command holds no writer lease, so it may run beside the daemon (`explain`, `validate
   * --check-backend`): a backend whose logins carry a label logs it in under a label of its own
   */
  readOnly?: boolean;
}

/** What each backend folder exports: a config type name and a factory. */
export interface BackendAdapter<C> {
  readonly type: string;
  create(config: C, ctx: BackendContext): Backend;
  /** what `convsync validate` finds wrong in the files the configuration names (their content, not only that they can be read) */
  fileIssues?(config: C): { path: string; message: string }[];
}
