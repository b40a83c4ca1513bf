/** A user as a source knows it; identity picks the backend user id out of these fields. */
export interface SourceUser {
  /** the id at the source (SCIM `id`) */
  id: string;
  userName?: string;
  externalId?: string;
  emails: string[];
  displayName?: string;
  active: boolean;
  /** the whole resource, for attribute paths such as `urn:…:enterprise:2.0:User:employeeNumber` */
  raw: Record<string, unknown>;
  /** LDAP: the user's further uid values (a login kept after a rename), which memberUid groups may list them by */
  otherUids?: string[];
  /** left by mapping: the number it gave this user in one call (see mapGroups) */
  numbered?: { by: object; ref: number };
  /**
   * Left by printing: the print of this user in one call (see membersPrint), as two numbers on the
   * user itself: a million memberships reach a hundred thousand users in no order, and an object
   * more on the way (the print as an object) cost a third more.
   */
  printedBy?: object;
  printedA?: number;
  printedB?: number;
}

export interface DesiredGroup {
  /** `<source>:<id at the source>`, stable across renames */
  key: string;
  source: string;
  id: string;
  displayName: string;
  members: SourceUser[];
  /**
   * false means the membership is *unknown* (a page failed, the group came back empty when it had
   * members, a member could not be resolved): removals for this group are frozen.
   */
  complete: boolean;
  unknownReason?: string;
  /**
   * false when the membership is unknown by the nature of what the source was told (a SAML
   * overage claim), not because a read failed: removals stay frozen, but the run is no error.
   */
  unknownIsReadError?: boolean;
  /** set by the guard when the group read empty after having members: held back until approved */
  suspect?: boolean;
  /**
   * Set by a source that answers unchanged groups from what it stored, their members read only when
   * asked for: the members' print (sources/print.ts) and how many there are, so that comparing and
   * counting groups does not read them.
   */
  membersPrint?: string;
  size?: number;
  /**
   * Set, not enumerable, by such a source: the print of the group's own fields as stored (complete,
   * no flag). A copy of the group (the guard's, making it unknown) has none and is printed anew.
   */
  readonly headPrint?: string;
  /**
   * Set, not enumerable, by a source that read only which members came and went since it stored the
   * group (its members then read only when asked for): a plan may start from the group's members as
   * resolved at that print. A copy of the group has none.
   */
  readonly moved?: MembersMoved;
}

export interface MembersMoved {
  /** the members' print the group had before */
  before: string;
  left: readonly SourceUser[];
  came: readonly SourceUser[];
}

export interface SourceResult {
  source: string;
  groups: DesiredGroup[];
  /**
   * true when the group listing itself was read in full, so a group that is not listed is really
   * gone. false (a listing page failed) means absent groups are unknown, never deleted.
   */
  listingComplete: boolean;
  warnings: string[];
  /**
   * For a source that stores what it reads (file, SCIM pull, LDAP): its version in the store as this
   * read left it, or null when this read was not stored or was merged into a stored read another
   * process replaced meanwhile. A run that planned from it stamps the source with that version only
   * if the store still holds it at the end.
   */
  version?: number | null;
  /**
   * Set when only the groups `FetchOptions.select` named were read: the others are neither read
   * nor gone. `listed` is how many groups the source lists in all.
   */
  selected?: { listed: number };
}

/** a group as a source lists it, before its members are read: what mapping rules match on */
export type GroupHead = Pick<DesiredGroup, 'key' | 'source' | 'id' | 'displayName'>;

export interface FetchOptions {
  /**
   * The run plans only the groups that differ from the last complete plan's: a source may answer
   * the groups it knows to be unchanged since its last read from what it stored.
   */
  partial?: boolean;
  /**
   * The run plans only some groups (after a push): given every group the source lists, the keys
   * of those it needs. A source that can read a few groups without the rest answers only those,
   * with `selected` set; another answers every group and the run leaves out the others itself.
   */
  select?: (heads: readonly GroupHead[]) => ReadonlySet<string>;
}

export interface Source {
  readonly id: string;
  fetch(signal: AbortSignal, opts?: FetchOptions): Promise<SourceResult>;
  /**
   * Whether anything may have changed since its last good read, told without reading it (a file's
   * fingerprint, a SCIM listing of what was modified since). true when it cannot tell. A source
   * without it is read at every run.
   */
  changed?(signal: AbortSignal): Promise<boolean>;
}

export interface SourceContext {
  dispatcher?: import('undici').Dispatcher;
  logger: import('pino').Logger;
  /** sources that receive their data (SCIM push) read it from the store */
  store: import('../store/store.js').Store;
  /** the clock sources with time-limited data (SAML memberships) read; Date.now unless a test sets it */
  now?: () => number;
}

/** What each source folder exports: its `type` and a factory. */
export interface SourceAdapter<C> {
  readonly type: string;
  create(config: C, ctx: SourceContext): Source;
}
