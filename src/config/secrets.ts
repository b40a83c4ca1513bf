import { readFileSync } from 'node:fs';

/**
 * Reads `holder[key]`, or the file named by `holder[key + "File"]`, trimmed of a final newline.
 * Called at each use (login, token renewal), so a rotated secret file is picked up without restart.
 */
export function readSecret(holder: object, key: string): string {
  const h = holder as Record<string, unknown>;
  const inline = h[key];
  if (typeof inline === 'string') return inline;
  const file = h[`${key}File`];
  if (typeof file !== 'string') throw new Error(`secret ${key} is not configured`);
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}
