/**
 * Entra ID without `?aadOptscim062020` sends booleans as strings (`"active": "False"`), which
 * scimmy's typed coercion refuses: they are made booleans before anything reads the body.
 */
export function normalizeEntraBooleans(body: unknown): void {
  const fix = (v: unknown): unknown => (typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : v);
  if (!body || typeof body !== 'object') return;
  const b = body as { active?: unknown; Operations?: { path?: unknown; value?: unknown }[] };
  if ('active' in b) b.active = fix(b.active);
  for (const op of Array.isArray(b.Operations) ? b.Operations : []) {
    if (typeof op?.path === 'string' && op.path.toLowerCase() === 'active') op.value = fix(op.value);
    else if (op?.value && typeof op.value === 'object' && 'active' in op.value) {
      (op.value as { active: unknown }).active = fix((op.value as { active: unknown }).active);
    }
  }
}

/** `emails[type eq "work"].value`: a sub-attribute of the value of a given type of a multi-valued attribute */
const TYPED_VALUE = /^([A-Za-z][\w]*)\[\s*type\s+eq\s+"([^"\\]*)"\s*\]\.([A-Za-z][\w$]*)$/i;

/**
 * Entra adds a typed value a user does not have yet (a first mobile number, work email or work
 * address) with `add` on a filtered path, `phoneNumbers[type eq "mobile"].value`, and bundles it with
 * the other changes of the cycle (a deactivation among them). RFC 7644 leaves such an `add` open and
 * scimmy refuses it (400 noTarget), which fails the whole PATCH: it is made the `add` of a new value
 * of that type. Only where no value of that type exists yet, in the order of the operations (a later
 * one for the same type then finds it). `replace` keeps RFC 7644 §3.5.2.3 (400 noTarget).
 */
export function addMissingTypedValues(body: unknown, resource: Record<string, unknown> | undefined): void {
  const ops = (body as { Operations?: unknown } | undefined)?.Operations;
  if (!resource || !Array.isArray(ops)) return;
  const present = new Set<string>();
  for (const [attr, list] of Object.entries(resource))
    if (Array.isArray(list))
      for (const v of list) if (typeof (v as { type?: unknown })?.type === 'string') present.add(`${attr.toLowerCase()}\n${(v as { type: string }).type}`);
  ops.forEach((op: { op?: unknown; path?: unknown; value?: unknown } | null, i) => {
    if (typeof op?.op !== 'string' || op.op.toLowerCase() !== 'add' || typeof op.path !== 'string') return;
    const m = TYPED_VALUE.exec(op.path.trim());
    if (!m) return;
    // an attribute the user holds that is not multi-valued is scimmy's to refuse
    const held = Object.entries(resource).find(([k]) => k.toLowerCase() === m[1]!.toLowerCase())?.[1];
    if (held !== undefined && !Array.isArray(held)) return;
    const key = `${m[1]!.toLowerCase()}\n${m[2]}`;
    if (present.has(key)) return;
    present.add(key);
    ops[i] = { op: op.op, path: m[1], value: [{ type: m[2], [m[3]!]: op.value }] };
  });
}
