import type { Logger } from 'pino';
import { LEASE_TTL_MS, LeaseError, type LeaseHolder, type Store } from './store/store.js';

/**
 * Renews the writer lease while a writing command lives. A renewal refused because another
 * convsync took the lease, or renewals failing for long enough that another could take it, mean
 * this process must stop writing: `lost` is set and `onLost` is told once.
 */
export class LeaseKeeper {
  lost: string | undefined;
  private lastRenewed = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly holder: LeaseHolder,
    private readonly logger: Logger,
    private readonly onLost?: (reason: string) => void,
    private readonly ttlMs = LEASE_TTL_MS,
  ) {
    this.timer = setInterval(() => this.renew(), ttlMs / 3).unref();
  }

  renew(): void {
    if (this.lost) return;
    try {
      this.store.lease.renew(this.holder);
      this.lastRenewed = Date.now();
    } catch (e) {
      const taken = e instanceof LeaseError;
      // a busy or failing disk is retried until the lease could have lapsed for others
      if (!taken && Date.now() - this.lastRenewed < (this.ttlMs * 2) / 3) {
        this.logger.warn({ err: (e as Error).message }, 'could not renew the writer lease; trying again');
        return;
      }
      this.lost = taken
        ? (e as Error).message
        : `the writer lease could not be renewed for ${Math.round((Date.now() - this.lastRenewed) / 1000)} s: ${(e as Error).message}`;
      this.logger.error({ err: this.lost }, 'lost the writer lease: stopping all writes');
      clearInterval(this.timer);
      this.onLost?.(this.lost);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
