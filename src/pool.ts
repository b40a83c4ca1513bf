/**
 * Runs `fn` over `items` with at most `limit` at a time. The first failure starts no new item; the
 * items in flight finish before it is thrown, so nothing goes on in the background after the caller
 * has given up (a run that failed must not still be applying its plan while the next one starts).
 */
export async function runPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const first = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (first) throw first.reason;
}
