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
