/**
 * Versioned schema migrations, applied in order at open (PRAGMA user_version holds the version).
 * Migrations only ever add: a newer convsync opens an older database, never the reverse.
 */
import m001 from './001.js';
import m002 from './002.js';
import m003 from './003.js';
import m004 from './004.js';
import m005 from './005.js';
import m006 from './006.js';
import m007 from './007.js';
import m008 from './008.js';
import m009 from './009.js';
import m010 from './010.js';
import m011 from './011.js';
import m012 from './012.js';
import m013 from './013.js';
import m014 from './014.js';
import m015 from './015.js';
import m016 from './016.js';
import m017 from './017.js';
import m018 from './018.js';
import m019 from './019.js';
import m020 from './020.js';
import m021 from './021.js';
import m022 from './022.js';
import m023 from './023.js';

/** one file per version, numbered from 001; a new migration is a new file and a line here */
export const MIGRATIONS: readonly string[] = [
  m001,
  m002,
  m003,
  m004,
  m005,
  m006,
  m007,
  m008,
  m009,
  m010,
  m011,
  m012,
  m013,
  m014,
  m015,
  m016,
  m017,
  m018,
  m019,
  m020,
  m021,
  m022,
  m023,
];
