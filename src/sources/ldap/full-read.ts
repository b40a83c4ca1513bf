import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import type { LdapConnection } from './connection.js';
import { stampAttributeOf } from './cursor.js';
import { readGroups } from './groups.js';
import type { SearchContext } from './paged-search.js';
import { groupsById, outsideOf, usersById, type ListingRead } from './result.js';
import { readUsers } from './users.js';

/**
 * The whole directory: groups paged, their members read to the end of their ranges; users paged,
 * disabled ones marked; member entries outside both listings read one by one. modifyTimestamp is
 * read with each group and user where the server is not AD: the highest is a cursor.
 */
export async function readWhole(ctx: SearchContext, config: LdapSourceConfig, conn: LdapConnection): Promise<ListingRead> {
  const stampAttribute = stampAttributeOf(conn);
  const narrow = { stampAttribute };
  const listing = await readGroups(ctx, config, narrow);
  const users = await readUsers(ctx, config, conn.server.activeDirectory, narrow);
  const read: ListingRead = {
    directory: { groups: new Map(), users: usersById(users.byDn.values()), outside: new Map() },
    groupsWithoutId: listing.withoutId,
    duplicateIds: [],
    usersWithoutId: users.withoutId,
    warnings: [],
  };
  groupsById(listing.groups, read.directory.groups, read);
  read.directory.outside = await outsideOf(ctx, config, read.directory, users.withoutId);
  const stamps = [listing.highestStamp, users.highestStamp].filter((n): n is number => n !== undefined);
  if (stamps.length > 0) read.highestStamp = Math.max(...stamps);
  return read;
}
