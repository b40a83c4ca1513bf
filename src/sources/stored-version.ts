import type { SourceReads } from '../store/source-reads.js';

/**
 * A read's write to the store, and the source's version it leaves (SourceResult.version): null when
 * the read merged its changes into a stored read (`base`, that read's version) that another process
 * replaced meanwhile, so that the run does not stamp the source as planned.
 */
export function storedOver(reads: SourceReads, source: string, base: number | undefined, write: () => void): number | null {
  return reads.writing(() => {
    const clean = base === undefined || reads.version(source) === base;
    write();
    return clean ? reads.version(source) : null;
  });
}
