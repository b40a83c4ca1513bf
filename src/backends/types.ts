import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';

export interface BackendCapabilities {
  /** most members a conversation may have, the daemon included (undefined: no limit) */
  maxMembers: number | undefined;
  /** users per add call */
  addBatch: number;
  /** users per remove call */
  removeBatch: number;
  /** a repeated create with the same input returns the same conversation */
  idempotentCreate: boolean;
  /** what "delete" does on this backend */
  delete: 'delete' | 'archive' | 'none';
}

/** A conversation as the backend reports it. `members` never includes the daemon itself. */
export interface BackendConversation {
  id: string;
  name: string;
  members: string[];
  /** the backend user id of whoever created it, when the backend says */
  creator?: string;
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
  whoami(signal?: AbortSignal): Promise<Whoami>;
  create(input: { name: string; members: string[] }, signal?: AbortSignal): Promise<BackendConversation>;
  /** undefined when the conversation does not exist (or no longer has the daemon in it) */
  get(conversationId: string, signal?: AbortSignal): Promise<BackendConversation | undefined>;
  /** group conversations the daemon is in */
  list(signal?: AbortSignal): Promise<BackendConversation[]>;
  /** returns who was actually added (already-present members are not an error) */
  addMembers(conversationId: string, members: string[], signal?: AbortSignal): Promise<{ added: string[] }>;
  removeMembers(conversationId: string, members: string[], signal?: AbortSignal): Promise<{ removed: string[] }>;
  rename(conversationId: string, name: string, signal?: AbortSignal): Promise<void>;
  delete?(conversationId: string, signal?: AbortSignal): Promise<void>;
  /** handles → backend user ids (null: no such user); batched as the backend allows */
  lookupHandles?(handles: string[], signal?: AbortSignal): Promise<Map<string, string | null>>;
  close?(): Promise<void>;
}

export interface BackendContext {
  dispatcher?: Dispatcher;
  logger: Logger;
  /** counts each HTTP answer, for metrics */
  onResponse?: (status: number) => void;
}

/** What each backend folder exports: a config type name and a factory. */
export interface BackendAdapter<C> {
  readonly type: string;
  create(config: C, ctx: BackendContext): Backend;
}
