import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statfsSync, statSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

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

/** what this process found when it checked the files against a fingerprint, for the one read that follows */
export interface FilesChecked {
  fingerprint: string;
  /** the files found unchanged, with the stamps to keep */
  unchanged: ReadonlyMap<string, FileStamp>;
  /** the files read and found changed, with their bytes and stamps */
  changed: ReadonlyMap<string, ReadFile>;
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
  // path.join per name cost a tenth of a second over ten thousand files: the directory is joined once
  const prefix = join(path, '_').slice(0, -1);
  return readdirSync(path)
    .filter((f) => f.endsWith('.json') || f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => prefix + f);
}

/** a file read once, with its stamp (see `stamped`) */
export function readStamped(file: string, opts: { reuse?: boolean } = {}): ReadFile {
  const read = stamped(file, (fd, size) => {
    const bytes = opts.reuse ? readReused(fd, size) : readFileSync(fd);
    return { sha256: createHash('sha256').update(bytes).digest('hex'), value: bytes };
  })!;
  return { file, bytes: read.value, stamp: read.stamp };
}

/**
 * A file opened once and read by `read`, with its stamp: size, mtime, inode and change time taken
 * before the read, and the hash `read` gives of the bytes it used, all of one open file (a symlink
 * swapped meanwhile cannot mix two files). A file changed during the read gets a stamp that will
 * not match it again, never the reverse. Undefined when `read` gives nothing.
 */
export function stamped<T>(
  file: string,
  read: (fd: number, size: number) => { sha256: string; value: T } | undefined,
): { stamp: FileStamp; value: T } | undefined {
  const statAt = Date.now();
  const fd = openSync(file, 'r');
  try {
    const { size, mtimeMs } = fstatSync(fd);
    const { ino, ctimeNs } = fstatSync(fd, { bigint: true });
    const out = read(fd, size);
    return out && { stamp: { file, size, mtimeMs, ino: String(ino), ctimeNs: String(ctimeNs), statAt, sha256: out.sha256 }, value: out.value };
  } finally {
    closeSync(fd);
  }
}

/**
 * One buffer a process reads a source's single file into, read after read: its memory stays mapped,
 * where new memory for each read of an 18 MB file cost 0.05–0.08 s on this kind of machine (reading
 * into it, then hashing it, ran at a sixth of the speed of memory touched before). A daemon keeps it
 * between runs. The bytes read are valid until the next read that reuses it.
 */
let reusable: Buffer | undefined;

/** an open file's bytes to its end (it may have grown since its stat), in the reusable buffer */
function readReused(fd: number, size: number): Buffer {
  if (reusable === undefined || reusable.length <= size) reusable = Buffer.allocUnsafeSlow(size + (size >> 3) + 1);
  let at = 0;
  for (;;) {
    // no room left: the file grew past it since its stat; the rest is read as readFileSync would
    if (at === reusable.length) return Buffer.concat([reusable, readFileSync(fd)]);
    const n = readSync(fd, reusable, at, reusable.length - at, null);
    if (n === 0) return reusable.subarray(0, at);
    at += n;
  }
}

export function fingerprintOf(files: readonly ReadFile[]): string {
  return JSON.stringify(files.map((f) => f.stamp));
}

/**
 * Whether the files are still the ones a fingerprint names: the same names, then each file's size
 * and content. An mtime can be set back and a copy can keep it, but not the inode's change time,
 * which the kernel sets: as git does, a file on a local file system whose size, inode and change
 * time are those stamped, and which had not changed for a while when it was read, is not read again;
 * any other is hashed. Any doubt is a change. When files hashed the same could be stamped anew (to
 * be trusted unread next time), the fingerprint with their new stamps is given too; and always the
 * files found unchanged, with the stamps to keep, and those read and found changed, with their bytes.
 */
export function checkFiles(
  path: string,
  fingerprint: string,
): { same: boolean; fingerprint?: string; unchanged: Map<string, FileStamp>; changed: Map<string, ReadFile> } {
  const before = stampsOf(fingerprint);
  const files = filesOf(path);
  const unchanged = new Map<string, FileStamp>();
  const changed = new Map<string, ReadFile>();
  if (!before || files.length !== before.length || files.some((f, i) => before[i]!.file !== f)) return { same: false, unchanged, changed };
  const devices = new Map<bigint, boolean>();
  let same = true;
  // every file, not up to the first changed: what changed is asked next, and these need not be asked again
  for (const [i, file] of files.entries()) {
    const stat = statSync(file, { bigint: true });
    // a size that differs is a change told without reading the file
    const checked = Number(stat.size) === before[i]!.size ? recheck(file, before[i]!, devices, stat) : undefined;
    if (checked && !checked.read) unchanged.set(file, checked.stamp);
    else same = false;
    if (checked?.read) changed.set(file, checked.read);
  }
  const refreshed = same && before.some((s) => unchanged.get(s.file) !== s);
  return { same, unchanged, changed, ...(refreshed ? { fingerprint: JSON.stringify(files.map((f) => unchanged.get(f))) } : {}) };
}

/** the stamps a fingerprint names, or undefined when it is not one */
export function stampsOf(fingerprint: string | null | undefined): readonly FileStamp[] | undefined {
  if (lastParsed !== undefined && fingerprint === lastParsed.text) return lastParsed.stamps;
  let stamps: unknown;
  try {
    stamps = fingerprint ? JSON.parse(fingerprint) : undefined;
  } catch {
    return undefined;
  }
  if (!Array.isArray(stamps)) return undefined;
  // a run checks the same fingerprint twice (has it changed, then what changed): parsed once
  lastParsed = { text: fingerprint!, stamps: stamps as FileStamp[] };
  return lastParsed.stamps;
}

let lastParsed: { text: string; stamps: readonly FileStamp[] } | undefined;

/**
 * One file against its stamp: unchanged (with the stamp to keep: the old one when trusted unread, a
 * new one when the bytes were read and are the same), or read again. `devices` tells, per check,
 * which devices are local file systems (statfs once per device, not once per file).
 */
export function recheck(
  file: string,
  was: FileStamp,
  devices = new Map<bigint, boolean>(),
  stat?: BigIntStats,
  /** read into the reusable buffer (`readReused`): the bytes are the caller's until the next such read */
  reuse = false,
): { stamp: FileStamp; read?: ReadFile } {
  if (was.file === file && unchangedSinceStamped(file, was, devices, stat ?? statSync(file, { bigint: true }))) return { stamp: was };
  const read = readStamped(file, { reuse });
  return was.file === file && read.stamp.sha256 === was.sha256 ? { stamp: read.stamp } : { stamp: read.stamp, read };
}

/** whether a file is the one stamped, told from its stat alone (see checkFiles) */
export function unchangedSinceStamped(file: string, was: FileStamp, devices: Map<bigint, boolean>, now: BigIntStats): boolean {
  if (was.ino === undefined || was.ctimeNs === undefined || was.statAt === undefined) return false;
  if (Number(now.size) !== was.size || String(now.ino) !== was.ino || String(now.ctimeNs) !== was.ctimeNs) return false;
  if (!(now.ctimeNs < BigInt(was.statAt - RACY_MS) * 1_000_000n)) return false;
  let local = devices.get(now.dev);
  if (local === undefined) devices.set(now.dev, (local = KERNEL_CTIME.has(statfsSync(file).type)));
  return local;
}

/** whether two fingerprints name the same files with the same bytes (sizes and hashes; a touch is no new version): if not, the read is a new version */
export function sameVersion(a: string | undefined | null, b: string): boolean {
  const version = (f: string | undefined | null) => {
    const stamps = stampsOf(f);
    return stamps && JSON.stringify(stamps.map(({ file, size, sha256 }) => [file, size, sha256]));
  };
  const was = version(a);
  return was !== undefined && was === version(b);
}
