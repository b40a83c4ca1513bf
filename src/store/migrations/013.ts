/** the status page: what asked for each run (schedule, push, saml, an operator; NULL: a shell), and one conversation's ops by its key */
export default `
  ALTER TABLE runs ADD COLUMN triggered_by TEXT;
  CREATE INDEX journal_binding_key ON journal (binding_key, id);
  `;
