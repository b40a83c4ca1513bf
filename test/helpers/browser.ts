import { accessSync, constants, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { skipWithout } from './prerequisite.js';

/** Debian's Chromium (`.ci/run` installs it); Playwright never downloads a browser of its own here */
export const CHROMIUM = '/usr/bin/chromium';

/** where browser tests leave their screenshots (git-ignored) */
export const UI_OUTPUT = fileURLToPath(new URL('../.output/ui/', import.meta.url));

function chromiumMissing(): string | undefined {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return undefined;
  } catch {
    return `${CHROMIUM} is not installed`;
  }
}

/** true when the file can run; under CI a missing Chromium fails it, elsewhere it is skipped, saying why */
export function chromiumHere(): boolean {
  return !skipWithout('Chromium', chromiumMissing(), 'Install it with: apt-get install chromium');
}

/**
 * Headless Chromium as root in a sandboxed machine: no sandbox of its own, and none of the
 * background connections it would make to Google (this network refuses them).
 */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(UI_OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
