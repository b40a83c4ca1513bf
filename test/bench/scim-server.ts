import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';

/** The SCIM sandbox in its own process (the pull benchmark's peer), serving a generated directory. */
const [groups, membersPerGroup, users, maxResults] = process.argv.slice(2).map(Number);
const directory = sampleDirectory({ groups: groups!, membersPerGroup: membersPerGroup!, users: users!, seed: 3 });
const scim = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 'bench-token' }, maxResults: maxResults! });
process.stdout.write(`${scim.baseUrl}\n`);
process.on('SIGTERM', () => void scim.stop().then(() => process.exit(0)));
