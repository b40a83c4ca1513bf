import { createInterface } from 'node:readline';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';

/**
 * The SCIM sandbox in its own process (the pull benchmark's peer), serving a generated directory
 * last modified an hour ago. A line `add <group id> <user id>` on stdin adds a member (now), and is
 * answered `ok`.
 */
const [groups, membersPerGroup, users, maxResults] = process.argv.slice(2).map(Number);
const directory = sampleDirectory({ groups: groups!, membersPerGroup: membersPerGroup!, users: users!, seed: 3 });
const scim = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 'bench-token' }, maxResults: maxResults! });
const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
for (const id of scim.groups.keys()) scim.backdate('Groups', id, hourAgo);
for (const id of scim.users.keys()) scim.backdate('Users', id, hourAgo);
process.stdout.write(`${scim.baseUrl}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, group, user] = line.trim().split(' ');
  if (command === 'add') scim.addMember(group!, user!);
  process.stdout.write('ok\n');
});
process.on('SIGTERM', () => void scim.stop().then(() => process.exit(0)));
