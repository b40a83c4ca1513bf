import { wellFormedText } from '../well-formed.js';
import { scimError } from './errors.js';

/**
 * Refuses a request body whose text is not well-formed Unicode, before anything reads or stores it:
 * the store would keep two userNames apart as one (both unique to the IdP), or a member id that
 * finds no one. The answer names the first such value by its path.
 */
export function refuseIllFormedText(body: unknown): void {
  const at = illFormedAt(body);
  if (at === undefined) return;
  throw scimError(400, 'invalidValue', `${at} is not well-formed Unicode (it holds an unpaired surrogate, \\uD800–\\uDFFF): nothing was changed`);
}

/** the path of the first key or string that is not well-formed; a stack, not recursion: any depth the body limit lets in */
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
      for (const [key] of entries) if (!wellFormedText(key)) return `the attribute name ${JSON.stringify(key)} in ${path}`;
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], path === 'the body' ? entries[i]![0] : `${path}.${entries[i]![0]}`]);
    }
  }
  return undefined;
}
