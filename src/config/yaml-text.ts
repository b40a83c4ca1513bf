import { parseAllDocuments, YAMLError, type ErrorCode } from 'yaml';

/** what each of the YAML library's mistakes is, in words that quote nothing of the file */
const KINDS: Record<ErrorCode, string> = {
  ALIAS_PROPS: 'an alias has an anchor or a tag',
  BAD_ALIAS: 'an alias is not well-formed',
  BAD_COLLECTION_TYPE: 'a collection is of the wrong kind for its tag',
  BAD_DIRECTIVE: 'a % directive is not known',
  BAD_DQ_ESCAPE: 'a double-quoted value holds an escape sequence that is not valid',
  BAD_INDENT: 'the indentation is wrong',
  BAD_PROP_ORDER: 'an anchor or a tag is out of place',
  BAD_SCALAR_START: 'a plain value starts with a reserved character (quote it)',
  BLOCK_AS_IMPLICIT_KEY: 'a value holds ": " (quote it) or a nested mapping is out of place',
  BLOCK_IN_FLOW: 'a block value is inside [ ] or { }',
  DUPLICATE_KEY: 'a key is given twice',
  IMPOSSIBLE: 'the YAML cannot be read',
  KEY_OVER_1024_CHARS: 'a key is longer than 1024 characters',
  MISSING_CHAR: 'a closing quote or bracket is missing',
  MULTILINE_IMPLICIT_KEY: 'a key spans more than one line',
  MULTIPLE_ANCHORS: 'a value has two anchors',
  MULTIPLE_DOCS: 'the file holds more than one YAML document',
  MULTIPLE_TAGS: 'a value has two tags',
  NON_STRING_KEY: 'a key is not a string',
  RESOURCE_EXHAUSTION: 'aliases expand too far',
  TAB_AS_INDENT: 'a tab is used for indentation',
  TAG_RESOLVE_FAILED: 'a !tag is not known',
  UNEXPECTED_TOKEN: 'there is unexpected text (a value that needs quotes?)',
};

/**
 * The configuration file's YAML, one document. Its mistakes and warnings are told by line, column
 * and kind only, never with the library's own message: that quotes the text around a mistake,
 * which may be an inline secret that broke the YAML.
 */
export function configYaml(text: string, file: string): { value: unknown } | { issues: { path: string; message: string }[] } {
  const docs = parseAllDocuments(text, { prettyErrors: false, logLevel: 'silent' });
  const problem = (message: string) => ({ path: `(file ${file})`, message: `not valid YAML${message}` });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return '';
    const before = text.slice(0, offset);
    return ` at line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')}`;
  };
  const mistakes = docs.flatMap((d) => [...d.errors, ...d.warnings]);
  if (mistakes.length > 0) return { issues: mistakes.map((e) => problem(`${at(e.pos[0])}: ${KINDS[e.code] ?? e.code}`)) };
  if (docs.length > 1) return { issues: [problem(`${at(docs[1]!.range[0])}: ${KINDS.MULTIPLE_DOCS}`)] };
  let value: unknown;
  try {
    value = docs[0]?.toJS() ?? {};
  } catch (e) {
    const kind =
      e instanceof YAMLError ? (KINDS[e.code] ?? e.code) : /alias/i.test((e as Error).message) ? 'an alias refers to no anchor before it' : 'it cannot be read';
    return { issues: [problem(`${e instanceof YAMLError ? at(e.pos[0]) : ''}: ${kind}`)] };
  }
  try {
    JSON.stringify(value);
  } catch {
    return { issues: [problem(': an alias holds itself (a configuration cannot be a loop)')] };
  }
  return { value: unshared(value) };
}

/**
 * A copy in which no two places are one object (YAML aliases make them so): what --set or a
 * CONVSYNC_* variable changes in one place changes nothing else. Values that are not lists or
 * mappings (a date, Infinity) are kept as read, for the schema to judge.
 */
function unshared(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unshared);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unshared(v)]));
  return value;
}
