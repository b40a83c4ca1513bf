import type Database from 'better-sqlite3';
import { endianness } from 'node:os';
import { Statements } from './statements.js';

/** offsets are kept little-endian whatever the machine: a store copied to another one reads them back the same */
const SWAP = endianness() === 'BE';

/** bytes a source kept of its last read, with their digest, and where each element is in them (start and end, in pairs) */
export interface KeptBytes {
  digest: string;
  bytes: Buffer;
  elements: Int32Array;
}

/**
 * What a source keeps of its last read to compare the next one with, byte for byte (a single JSON
 * file: its users list). Not what a plan reads: writing it bumps no version. Whoever reads it
 * checks its digest against the read state it was kept with.
 */
export class SourceReadBytes {
  private readonly statements: Statements;

  constructor(db: Database.Database) {
    this.statements = new Statements(db);
  }

  get(source: string): KeptBytes | undefined {
    const row = this.statements.get(`SELECT digest, bytes, elements FROM source_read_bytes WHERE source = ?`).get(source) as
      { digest: string; bytes: Buffer; elements: Buffer } | undefined;
    if (!row || row.elements.byteLength % 8 !== 0) return undefined;
    // a copy: a blob's buffer need not be aligned for 32-bit reads
    const elements = new Int32Array(row.elements.byteLength / 4);
    const raw = Buffer.from(elements.buffer);
    raw.set(row.elements);
    if (SWAP) raw.swap32();
    return { digest: row.digest, bytes: row.bytes, elements };
  }

  /** the digest kept, without the bytes */
  digest(source: string): string | undefined {
    return this.statements.get(`SELECT digest FROM source_read_bytes WHERE source = ?`).pluck().get(source) as string | undefined;
  }

  /** the digest and length of the bytes kept, without the bytes */
  shape(source: string): { digest: string; length: number } | undefined {
    // length() of a blob is read from the row's header, without reading the blob
    return this.statements.get(`SELECT digest, length(bytes) AS length FROM source_read_bytes WHERE source = ?`).get(source) as
      { digest: string; length: number } | undefined;
  }

  /** these bytes kept for the source, or none (undefined) */
  put(source: string, kept: KeptBytes | undefined): void {
    if (kept === undefined) {
      this.statements.get(`DELETE FROM source_read_bytes WHERE source = ?`).run(source);
      return;
    }
    const native = Buffer.from(kept.elements.buffer, kept.elements.byteOffset, kept.elements.byteLength);
    const elements = SWAP ? Buffer.from(native).swap32() : native;
    this.statements
      .get(
        `INSERT INTO source_read_bytes (source, digest, bytes, elements) VALUES (?, ?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET digest = excluded.digest, bytes = excluded.bytes, elements = excluded.elements`,
      )
      .run(source, kept.digest, kept.bytes, elements);
  }
}
