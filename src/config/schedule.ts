import type { ConfigIssue } from './load.js';

/**
 * The schema checks the schedule's shape only: node-cron, which runs it, is loaded by the commands
 * that use it (the daemon, `validate`), not by every run of the CLI. Its verdict is a configuration
 * error with its path, told before the daemon serves anything.
 */
export async function scheduleIssues(schedule: string): Promise<ConfigIssue[]> {
  const { default: cron } = await import('node-cron');
  return cron.validate(schedule)
    ? []
    : [{ path: 'schedule', message: `"${schedule}" is not a cron expression node-cron can run (e.g. "*/5 * * * *", "0 9 * * mon-fri")` }];
}
