import type { KeptBytes } from '../../store/kept-bytes.js';
import type { FlatGroup } from '../expand.js';
import type { StoredCursor, StoredGroupData } from './stored.js';
import type { UserChanges } from './user-changes.js';

/** a group as the store holds it, without its members: what a read of what changed compares with */
export interface Head {
  displayName: string;
  nested: string[];
  data: StoredGroupData;
}

/** what changed in the files since the last read, as far as it can be followed without a whole read */
export interface Changed {
  /** the groups whose name, member ids or place differ from the stored ones, as the files list them now */
  groups: Map<string, FlatGroup>;
  places: Map<string, { file: string; pos: number; span?: string }>;
  /** the users that changed, and the cursor that says so (of a users list kept as bytes, with the bytes to keep now) */
  users?: UserChanges & { cursor: StoredCursor; kept?: KeptBytes };
}
