import { extname } from 'node:path';
import type { SourceReads } from '../../store/source-reads.js';
import { readStamped, type FileStamp } from './fingerprint.js';
import { parseFile, type FileContent, type FileUserRecord } from './format.js';
import type { StoredCursor } from './stored.js';
import { usersSpansOf } from './spans.js';
import { MOST_USERS_CHANGED, type UserChanges } from './user-changes.js';

/**
 * The users of a directory that changed, when a file's users differ from those the store keeps.
 * The store does not say which file listed which user, so every file that lists users now or did
 * at the last read is parsed (an unchanged one is read again and must still hash as stamped), and
 * the users they list together are compared with the rows kept, id by id, by the text a whole read
 * writes. Parsing the users' files costs a fraction of a whole read, which also expands and prints
 * every group. Undefined: read whole — an id given twice, a file that changed since it was found
 * unchanged, more than MOST_USERS_CHANGED users changed.
 */
export function changedDirectoryUsers(ctx: {
  source: string;
  reads: SourceReads;
  /** every file of the directory, in order, with the content of those read now */
  files: readonly { stamp: FileStamp; content?: FileContent; usersDigest: string | undefined }[];
  cursor: StoredCursor;
}): (UserChanges & { cursor: StoredCursor }) | undefined {
  const { source, reads, cursor } = ctx;
  const users = new Map<string, FileUserRecord>();
  const digests: Record<string, string> = {};
  for (const { stamp, content, usersDigest } of ctx.files) {
    let listed = content?.users;
    if (listed && listed.length > 0) digests[stamp.file] = usersDigest!;
    else if (!content && cursor.users[stamp.file] !== undefined) {
      const read = readStamped(stamp.file);
      if (read.stamp.sha256 !== stamp.sha256) return undefined;
      listed = parseFile(source, read).users;
      digests[stamp.file] = cursor.users[stamp.file]!;
    }
    for (const u of listed ?? []) {
      if (users.has(u.id)) return undefined;
      users.set(u.id, u);
    }
  }
  const stored = reads.users(source);
  const put: FileUserRecord[] = [];
  const added: string[] = [];
  for (const [id, u] of users) {
    const was = stored.get(id);
    if (was === JSON.stringify(u)) continue;
    put.push(u);
    if (was === undefined) added.push(id);
  }
  const gone = [...stored.keys()].filter((id) => !users.has(id));
  if (put.length + gone.length > MOST_USERS_CHANGED) return undefined;
  return { put, gone, added, cursor: { ...cursor, users: digests } };
}

/** the one file of a directory that lists users, when it is JSON listing only users, laid out plainly */
export function plainUsersFile(contents: readonly { file: string; bytes: Buffer; content: FileContent }[]) {
  const listing = contents.filter((c) => c.content.users.length > 0);
  if (listing.length !== 1 || extname(listing[0]!.file) !== '.json') return undefined;
  const spans = usersSpansOf(listing[0]!.bytes);
  return spans && { file: listing[0]!.file, bytes: listing[0]!.bytes, spans };
}
