/**
 * SQLite's answer when the store stayed locked by another connection past the wait, or when a
 * transaction that began before another connection's write tries to write (SQLITE_BUSY_SNAPSHOT)
 */
export function isBusy(e: unknown): boolean {
  return typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('SQLITE_BUSY');
}
