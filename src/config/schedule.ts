import { createRequire } from 'node:module';
import type { ConfigIssue } from './load.js';

/**
 * The schema checks the schedule's shape only: node-cron, which runs it, is loaded by the commands
 * that use it (the daemon, `validate`), not by every run of the CLI. Its verdict is told with the
 * configuration's other problems, before the daemon serves anything.
 */
export function scheduleIssues(schedule: unknown): ConfigIssue[] {
  if (typeof schedule !== 'string') return [];
  const cron = createRequire(import.meta.url)('node-cron') as { validate(expression: string): boolean };
  return cron.validate(schedule)
    ? []
    : [{ path: 'schedule', message: `"${schedule}" is not a cron expression node-cron can run (e.g. "*/5 * * * *", "0 9 * * mon-fri")` }];
}
