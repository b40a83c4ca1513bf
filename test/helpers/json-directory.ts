/** JSON directory files of every layout, whose strings hold what looks like structure (file-spans, file-streamed-spans) */

/** text that JSON must escape or that looks like structure: quotes, backslashes, brackets, commas, non-ASCII */
const NASTY = ['"', '\\', '\\"', '{', '}', '[', ']', ',', ':', 'é', '😀', '\u2028', '\n', '\t', 'users', '"groups":'];

export function textOf(random: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  return Array.from({ length: Math.floor(random() * 4) }, () => (random() < 0.5 ? pick(NASTY) : `u${Math.floor(random() * 50)}`)).join('');
}

export function documentOf(random: () => number): { value: { users: unknown[]; groups: unknown[] }; text: string } {
  const users = Array.from({ length: Math.floor(random() * 4) }, (_, i) => ({ id: `u${i}`, title: textOf(random), tags: [textOf(random)] }));
  const groups = Array.from({ length: Math.floor(random() * 6) }, (_, i) => ({
    id: `g${i}`,
    displayName: textOf(random) || 'x',
    members: Array.from({ length: Math.floor(random() * 4) }, () => textOf(random)),
    ...(random() < 0.2 ? { extra: { nested: [[], {}, [textOf(random)]] } } : {}),
  }));
  const value = random() < 0.5 ? { users, groups } : ({ groups, users } as { users: unknown[]; groups: unknown[] });
  const text = JSON.stringify(value, null, [undefined, 2, '\t', ' \r\n '][Math.floor(random() * 4)]);
  return { value, text };
}

/** the text with one to three bytes of structure or not deleted, inserted or replaced at random */
export function mutatedText(text: string, random: () => number): string {
  const alphabet = ['{', '}', '[', ']', '"', '\\', ',', ':', ' ', 'x', '0', '\n'];
  for (let m = 0; m < 1 + Math.floor(random() * 3); m++) {
    const at = Math.floor(random() * (text.length + 1));
    const r = random();
    const c = alphabet[Math.floor(random() * alphabet.length)]!;
    text = r < 0.4 ? text.slice(0, at) + text.slice(at + 1) : r < 0.8 ? text.slice(0, at) + c + text.slice(at) : text.slice(0, at) + c + text.slice(at + 1);
  }
  return text;
}

/** files laid out otherwise than plainly (another key, a key twice, escapes, trailing bytes, not JSON): never followed by their spans */
export const ODD_LAYOUTS: readonly string[] = [
  '{"users":[],"groups":[],"extra":1}',
  '{"users":[],"groups":[],"groups":[]}',
  '{"user\\u0073":[],"groups":[]}',
  '{"users":[],"groups":["g1"]}',
  '{"users":[],"groups":[{"id":"g1"}] x}',
  '\ufeff{"users":[],"groups":[]}',
  '{"groups":[]}',
  '{"users":[]}',
  '{}',
  '[]',
  '{"users":[],"groups":[{"id":"g1"}',
  '{"users":[],"groups":[{"id":"g1"},]}',
  '{"users":[],,"groups":[]}',
  '{"users":{},"groups":[]}',
  '{"users":[] "groups":[]}',
  '{"users":[],"groups":[{"id":"g1\\"}]}',
  '{"users":[],"groups":[]}\u00a0',
  '',
  '{"users":[],"groups":[]} }',
  '{"users":[],"group":[]}',
  '{"users":[],"users":[],"groups":[]}',
];
