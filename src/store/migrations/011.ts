/** what each source last read (incremental reads), and a version per source that any change to what it stored bumps (so a run can tell that nothing changed since its last plan) */
export default `
  -- per source: where the next incremental read starts (opaque), a fingerprint of content read whole
  CREATE TABLE source_reads (
    source       TEXT PRIMARY KEY,
    cursor       TEXT,
    fingerprint  TEXT,
    full_read_at TEXT,
    read_at      TEXT NOT NULL
  ) WITHOUT ROWID;

  -- the groups as last read: member ids as one string (source-reads.ts encodeIds), users stored once, below
  CREATE TABLE source_read_groups (
    source       TEXT NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    members      TEXT NOT NULL,
    nested       TEXT,
    data         TEXT,
    PRIMARY KEY (source, id)
  );

  CREATE TABLE source_read_users (
    source TEXT NOT NULL,
    id     TEXT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (source, id)
  );

  CREATE TABLE source_versions (
    source  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- sources fed through the store (SCIM push, SAML): any write to their tables is a change
  CREATE TRIGGER push_users_ins_version AFTER INSERT ON push_users BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_users_upd_version AFTER UPDATE ON push_users BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_users_del_version AFTER DELETE ON push_users BEGIN
    INSERT INTO source_versions (source, version) VALUES (OLD.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_groups_ins_version AFTER INSERT ON push_groups BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_groups_upd_version AFTER UPDATE ON push_groups BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_groups_del_version AFTER DELETE ON push_groups BEGIN
    INSERT INTO source_versions (source, version) VALUES (OLD.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_members_ins_version AFTER INSERT ON push_members BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_members_upd_version AFTER UPDATE ON push_members BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER push_members_del_version AFTER DELETE ON push_members BEGIN
    INSERT INTO source_versions (source, version) VALUES (OLD.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER saml_logins_ins_version AFTER INSERT ON saml_logins BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER saml_logins_upd_version AFTER UPDATE ON saml_logins BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER saml_logins_del_version AFTER DELETE ON saml_logins BEGIN
    INSERT INTO source_versions (source, version) VALUES (OLD.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER saml_groups_ins_version AFTER INSERT ON saml_groups BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER saml_groups_upd_version AFTER UPDATE ON saml_groups BEGIN
    INSERT INTO source_versions (source, version) VALUES (NEW.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  CREATE TRIGGER saml_groups_del_version AFTER DELETE ON saml_groups BEGIN
    INSERT INTO source_versions (source, version) VALUES (OLD.source, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1;
  END;
  `;
