import { wellFormedText } from '../well-formed.js';
import { scimError } from './errors.js';

/** how much of a path or an attribute name an error repeats: the body is the caller's, its size the body limit's */
const SHOWN = 200;

/**
 * Refuses a request body whose text is not well-formed Unicode, before anything reads or stores it:
 * the store would keep two userNames apart as one (both unique to the IdP), or a member id that
 * finds no one. The answer names the first such value by its path.
 */
export function refuseIllFormedText(body: unknown): void {
  // the walk that builds paths only for a body known to hold such text: most bodies are large and well-formed
  if (!holdsIllFormedText(body)) return;
  const at = illFormedAt(body) ?? 'the body';
  const shown = at.length > SHOWN ? `${Array.from(at).slice(0, SHOWN).join('')}…` : at;
  throw scimError(400, 'invalidValue', `${shown} is not well-formed Unicode (it holds an unpaired surrogate, \\uD800–\\uDFFF): nothing was changed`);
}

/** a stack, not recursion: any depth the body limit lets in */
function holdsIllFormedText(body: unknown): boolean {
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (!wellFormedText(value)) return true;
    } else if (Array.isArray(value)) {
      for (const v of value) stack.push(v);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, v] of Object.entries(value)) {
        if (!wellFormedText(key)) return true;
        stack.push(v);
      }
    }
  }
  return false;
}

/** the path of the first key or string, in the body's order, that is not well-formed */
function illFormedAt(body: unknown): string | undefined {
  const stack: [unknown, string][] = [[body, 'the body']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (!wellFormedText(value)) return path;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${path}[${i}]`]);
    } else if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value);
      for (const [key] of entries) if (!wellFormedText(key)) return `the attribute name ${JSON.stringify(key).slice(0, SHOWN)} in ${path}`;
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], path === 'the body' ? entries[i]![0] : `${path}.${entries[i]![0]}`]);
    }
  }
  return undefined;
}
