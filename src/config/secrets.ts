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

/**
 * JSON.parse for files that hold secrets: the error says where the text is wrong (line and column),
 * never what it holds — V8's own messages quote the text around the mistake.
 */
export function parseSecretJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const at = jsonErrorOffset(text);
    if (at === undefined) throw new Error(`${what} is empty or ends too early (not valid JSON)`);
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    throw new Error(`${what} is not valid JSON at line ${line}, column ${column}`);
  }
}

/** the offset of the first character that makes `text` invalid JSON; undefined when it only ends too early */
function jsonErrorOffset(text: string): number | undefined {
  const fails = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return false;
    } catch (e) {
      // a mistake at the very end of the prefix is only the prefix ending
      const message = (e as Error).message;
      const at = /at position (\d+)/.exec(message);
      return at ? Number(at[1]) < n : !/Unexpected end of JSON input/.test(message);
    }
  };
  if (!fails(text.length)) return undefined;
  // a prefix holding the mistake fails however it ends, so the shortest failing prefix ends on it
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fails(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}
