/** CI=true (or 1) as CI systems set it; CI=false and CI=0 are a developer saying "not CI". */
export const underCi = !!process.env.CI && !/^(false|0)$/i.test(process.env.CI);

/** What a missing third-party peer says: what is missing and the command that brings it. */
export class MissingPrerequisite extends Error {
  override readonly name = 'MissingPrerequisite';
}

/**
 * For a test file that runs a real third-party program. Returns true when the file must skip.
 * `missing` is undefined when the peer is here. Under CI a missing peer fails the file (thrown
 * while vitest collects it); elsewhere the file is skipped with a line saying how to get it.
 */
export function skipWithout(peer: string, missing: string | undefined, remedy: string): boolean {
  if (missing === undefined) return false;
  const message = `${peer}: ${missing}. ${remedy}`;
  if (underCi) throw new MissingPrerequisite(`${message} (CI=true: a missing prerequisite fails, it is never skipped)`);
  console.warn(`skipped — ${message}`);
  return true;
}
