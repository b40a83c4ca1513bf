import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest's global setup: the temp folders that test files, the servers they start and the CLI
 * processes make all land in one folder of this run (they inherit TMPDIR), removed when it ends, so
 * that folders a test leaves behind do not pile up in the machine's temp folder run after run
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'convsync-tests-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
