/** what each group looked like when the last complete plan was made: a run re-plans only the groups that differ */
export default `
  CREATE TABLE group_prints (
    key TEXT PRIMARY KEY,
    print TEXT NOT NULL
  ) WITHOUT ROWID;
  `;
