/**
 * The four kinds of failure the reconciler treats differently (DESIGN §4). Every error raised by a
 * backend or source carries who raised it and, when the remote API gave one, its own label
 * (Wire's `label`, SCIM's `scimType`, …) so an operator can look it up in that API's docs.
 */
export type ErrorKind = 'transient' | 'auth' | 'permanent' | 'capacity';

export interface ErrorDetails {
  /** backend or source id, e.g. "wire" or "scim:corp" */
  origin: string;
  /** the remote API's own error label, if any */
  label?: string;
  status?: number;
  /** server-requested wait before retrying (Retry-After), in ms */
  retryAfterMs?: number;
  cause?: unknown;
}

export abstract class SyncError extends Error {
  abstract readonly kind: ErrorKind;
  readonly origin: string;
  readonly label: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: ErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.origin = details.origin;
    this.label = details.label;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** "wire 403 action-denied: Insufficient authorization" */
  describe(): string {
    const tag = [this.origin, this.status, this.label].filter((p) => p !== undefined && p !== '').join(' ');
    return `${tag}: ${this.message}`;
  }
}

/** network failure, timeout, 5xx, throttling (Wire 420, 429): retry with backoff */
export class TransientError extends SyncError {
  readonly kind = 'transient' as const;
  /** throttling answers (420/429) also slow the rate limiter down */
  readonly throttled: boolean;
  /**
   * The request may have been applied even though no answer came back (a reset or timeout after
   * it was sent, a 5xx from a gateway): a non-idempotent call must be looked for, not sent again.
   */
  readonly ambiguous: boolean;
  constructor(message: string, details: ErrorDetails & { throttled?: boolean; ambiguous?: boolean }) {
    super(message, details);
    this.throttled = details.throttled ?? false;
    this.ambiguous = details.ambiguous ?? false;
  }
}

/** a failure after which the change may or may not have been made */
export function isAmbiguous(e: unknown): boolean {
  return e instanceof TransientError && e.ambiguous;
}

/** credentials refused even after one renewal: the run cannot continue against this backend */
export class AuthError extends SyncError {
  readonly kind = 'auth' as const;
}

/** a contract error (4xx) for this one operation: recorded as failed, the run goes on */
export class PermanentError extends SyncError {
  readonly kind = 'permanent' as const;
  /**
   * Refused for the conversation's sake (its settings), under a label the backend also gives a
   * refused user: nobody in the call is refused, so it is not split to find who
   */
  readonly ofConversation: boolean;
  constructor(message: string, details: ErrorDetails & { ofConversation?: boolean }) {
    super(message, details);
    this.ofConversation = details.ofConversation ?? false;
  }
}

/**
 * The backend refuses this conversation's member changes for good (a Wire group migrated to MLS):
 * reported with the remedy, never retried.
 */
export class UnmanageableError extends PermanentError {
  constructor(
    message: string,
    readonly reason: string,
    details: ErrorDetails,
  ) {
    super(message, details);
  }
}

/** the conversation would exceed what the backend allows: blocked with a warning */
export class CapacityError extends SyncError {
  readonly kind = 'capacity' as const;
}

export function isSyncError(e: unknown): e is SyncError {
  return e instanceof SyncError;
}

export function describeError(e: unknown): string {
  if (isSyncError(e)) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * A backend's `updateConversation` cannot make these changes in one call: nothing was sent, and the
 * ops go one by one, each under the rate limit, retried and journaled on its own.
 */
export class SplitCallsError extends Error {}

/** an operator's request that no longer fits the store: a saved plan or an approval gone stale */
export class StalePlanError extends Error {
  override name = 'StalePlanError';
}

/** work asked of a daemon that is shutting down */
export class DaemonStoppingError extends Error {
  override name = 'DaemonStoppingError';
  constructor() {
    super('the daemon is stopping');
  }
}

/** an error as it crosses from one thread to another: what the daemon and its routes tell apart */
export interface PlainError {
  name: string;
  message: string;
  kind?: ErrorKind;
  origin?: string;
  status?: number;
  label?: string;
  /** a transient error's flags */
  throttled?: boolean;
  ambiguous?: boolean;
  /** an unmanageable conversation's reason */
  reason?: string;
}

export function toPlainError(e: unknown): PlainError {
  if (isSyncError(e)) {
    const plain: PlainError = { name: e.name, message: e.message, kind: e.kind, origin: e.origin, status: e.status, label: e.label };
    if (e instanceof TransientError) Object.assign(plain, { throttled: e.throttled, ambiguous: e.ambiguous });
    if (e instanceof UnmanageableError) plain.reason = e.reason;
    return plain;
  }
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

/** the error `toPlainError` made plain, of its class again (its stack stays where it was thrown) */
export function fromPlainError(p: PlainError): Error {
  if (p.name === 'StalePlanError') return new StalePlanError(p.message);
  if (p.name === 'DaemonStoppingError') return new DaemonStoppingError();
  if (p.kind !== undefined) {
    const details = {
      origin: p.origin ?? 'convsync',
      ...(p.status !== undefined ? { status: p.status } : {}),
      ...(p.label !== undefined ? { label: p.label } : {}),
    };
    if (p.kind === 'transient') return new TransientError(p.message, { ...details, throttled: p.throttled === true, ambiguous: p.ambiguous === true });
    if (p.kind === 'permanent' && p.reason !== undefined) return new UnmanageableError(p.message, p.reason, details);
    const Kind = { auth: AuthError, permanent: PermanentError, capacity: CapacityError }[p.kind];
    return new Kind(p.message, details);
  }
  const e = new Error(p.message);
  e.name = p.name;
  return e;
}
