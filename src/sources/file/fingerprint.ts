import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

/** one file of a file source as read: its bytes, and what tells whether it changed since */
export interface ReadFile {
  file: string;
  bytes: Buffer;
  stamp: FileStamp;
}

export interface FileStamp {
  file: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  /** the inode and its change time in ns, as decimal text (64-bit): a write, a rename over it or a touch changes them */
  ino?: string;
  ctimeNs?: string;
  /** when the stat was taken (ms) */
  statAt?: number;
}

/** a file changed this close to its read may change again within its file system's time granularity unseen by stat */
const RACY_MS = 2_000;

/**
 * Local file systems whose change time the kernel sets on every write, rename over and touch
 * (statfs magic numbers: ext2/3/4, XFS, Btrfs, tmpfs — a Kubernetes ConfigMap —, overlayfs, ZFS, F2FS).
 * Network and FUSE file systems may report the mtime as the ctime or stat from a cache: their files are hashed.
 */
const KERNEL_CTIME = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630, 0x2fc12fc1, 0xf2f52010]);

/** the files of a source path: the file itself, or a directory's *.yaml, *.yml and *.json in name order */
export function filesOf(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f)))
    .sort()
    .map((f) => join(path, f));
}

/**
 * A file read once, with its stamp: size, mtime, inode and change time taken before the read, the
 * hash of the bytes read, all of one open file (a symlink swapped meanwhile cannot mix two files).
 * A file changed during the read gets a stamp that will not match it again, never the reverse.
 */
export function readStamped(file: string): ReadFile {
  const statAt = Date.now();
  const fd = openSync(file, 'r');
  try {
    const { size, mtimeMs } = fstatSync(fd);
    const { ino, ctimeNs } = fstatSync(fd, { bigint: true });
    const bytes = readFileSync(fd);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { file, bytes, stamp: { file, size, mtimeMs, ino: String(ino), ctimeNs: String(ctimeNs), statAt, sha256 } };
  } finally {
    closeSync(fd);
  }
}

export function fingerprintOf(files: readonly ReadFile[]): string {
  return JSON.stringify(files.map((f) => f.stamp));
}

/**
 * Whether the files are still the ones a fingerprint names: the same names, sizes and mtimes
 * (checked first, from the file system alone), and the same content. An mtime can be set back
 * and a copy can keep it, but not the inode's change time, which the kernel sets: as git does, a
 * file on a local file system whose inode and change time are those stamped, and which had not
 * changed for a while when it was read, is not read again; any other is hashed. Any doubt is a change.
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
  const stats = files.map((f) => statSync(f));
  if (files.some((file, i) => before[i]!.file !== file || before[i]!.size !== stats[i]!.size || before[i]!.mtimeMs !== stats[i]!.mtimeMs)) return false;
  return files.every((file, i) => unchangedSinceStamped(file, before[i]!) || readStamped(file).stamp.sha256 === before[i]!.sha256);
}

/** the stamps a fingerprint names, or undefined when it is not one */
export function stampsOf(fingerprint: string | null | undefined): FileStamp[] | undefined {
  try {
    const stamps = fingerprint ? (JSON.parse(fingerprint) as unknown) : undefined;
    return Array.isArray(stamps) ? (stamps as FileStamp[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One file against its stamp, as `sameFiles` checks it: unchanged (with the stamp to keep: the old
 * one when trusted unread, a new one when the bytes were read and are the same), or read again.
 */
export function recheck(file: string, was: FileStamp): { stamp: FileStamp; read?: ReadFile } {
  const { size, mtimeMs } = statSync(file);
  if (was.file === file && size === was.size && mtimeMs === was.mtimeMs && unchangedSinceStamped(file, was)) return { stamp: was };
  const read = readStamped(file);
  return was.file === file && read.stamp.sha256 === was.sha256 ? { stamp: read.stamp } : { stamp: read.stamp, read };
}

function unchangedSinceStamped(file: string, was: FileStamp): boolean {
  if (was.ino === undefined || was.ctimeNs === undefined || was.statAt === undefined) return false;
  if (!KERNEL_CTIME.has(statfsSync(file).type)) return false;
  const { ino, ctimeNs } = statSync(file, { bigint: true });
  return String(ino) === was.ino && String(ctimeNs) === was.ctimeNs && ctimeNs < BigInt(was.statAt - RACY_MS) * 1_000_000n;
}

/** whether two fingerprints name the same files with the same sizes, mtimes and bytes: if not, the read is a new version */
export function sameVersion(a: string | undefined | null, b: string): boolean {
  const version = (f: string | undefined | null) => {
    try {
      return f ? JSON.stringify((JSON.parse(f) as FileStamp[]).map(({ file, size, mtimeMs, sha256 }) => [file, size, mtimeMs, sha256])) : undefined;
    } catch {
      return undefined;
    }
  };
  const was = version(a);
  return was !== undefined && was === version(b);
}
