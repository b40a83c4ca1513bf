import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

/** one file of a file source as read: its bytes, and what tells whether it changed since */
export interface ReadFile {
  file: string;
  bytes: Buffer;
  stamp: FileStamp;
}

interface FileStamp {
  file: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** the files of a source path: the file itself, or a directory's *.yaml, *.yml and *.json in name order */
export function filesOf(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f)))
    .sort()
    .map((f) => join(path, f));
}

/**
 * A file read once, with its stamp: size and mtime taken before the read, the hash of the bytes
 * read. A file changed during the read gets a stamp that will not match it again, never the reverse.
 */
export function readStamped(file: string): ReadFile {
  const { size, mtimeMs } = statSync(file);
  const bytes = readFileSync(file);
  return { file, bytes, stamp: { file, size, mtimeMs, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

export function fingerprintOf(files: readonly ReadFile[]): string {
  return JSON.stringify(files.map((f) => f.stamp));
}

/**
 * Whether the files are still the ones a fingerprint names: the same names, sizes and mtimes
 * (checked first, from the file system alone), and the same content (hashed, since an mtime can
 * be set back and a copy can keep it). Any doubt is a change.
 */
export function sameFiles(path: string, fingerprint: string): boolean {
  let before: FileStamp[];
  try {
    before = JSON.parse(fingerprint) as FileStamp[];
  } catch {
    return false;
  }
  const files = filesOf(path);
  if (files.length !== before.length) return false;
  for (const [i, file] of files.entries()) {
    const { size, mtimeMs } = statSync(file);
    const was = before[i]!;
    if (was.file !== file || was.size !== size || was.mtimeMs !== mtimeMs) return false;
  }
  return files.every((file, i) => readStamped(file).stamp.sha256 === before[i]!.sha256);
}
