import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('convsync apply: a saved plan applied twice', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  /** Protocol, contacts made by convsync, synced; then a user with no contact yet joins team eng */
  const withNewUser = async () => {
    const made = await startHarness({ backend: 'protocol', groups: 2, membersPerGroup: 3, users: 12 });
    made.writeConfig({
      identity: { from: 'userName', lookup: 'handle', phoneFrom: 'externalId' },
      backend: {
        type: 'protocol',
        baseUrl: made.protocol!.baseUrl,
        auth: { type: 'bearer', tokenFile: './protocol-token' },
        contacts: { matchOn: 'username', create: true },
      },
    });
    expect((await made.cli(['sync'])).code).toBe(0);
    made.scim.addUser({ id: 'u-fresh', userName: 'fresh', displayName: 'Fresh', email: 'fresh@example.com', externalId: '+4930111', active: true });
    made.scim.addMember(made.directory.groups[0]!.id, 'u-fresh');
    return made;
  };

  it('a plan that only makes a contact makes it once', async () => {
    h = await withNewUser();
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(0);
    // the plan makes the contact only; its membership follows at the next sync
    expect(JSON.parse(readFileSync(file, 'utf8')).ops.map((o: { op: string }) => o.op)).toEqual(['contact']);
    const first = await h.cli(['apply', file]);
    expect(first.code, first.stderr).toBe(0);
    // nothing the snapshot digest sees moved: the same file again must not make a second contact
    const writes = h.protocol!.writeCalls().length;
    const second = await h.cli(['apply', file]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/refused: the plan makes the contact "fresh", which protocol has now/);
    expect(h.protocol!.writeCalls().length).toBe(writes);
    expect([...h.protocol!.contacts.values()].filter((c) => c.username === 'fresh')).toHaveLength(1);
  });

  it('a contact made by hand while "not found" is cached is found, not made a second time', async () => {
    h = await withNewUser();
    // a dry run caches "no such contact" for identity.cacheTtlHours
    const dry = await h.cli(['sync', '--dry-run', '--output', 'json']);
    expect(JSON.parse(dry.stdout).plan.ops.map((o: { op: string }) => o.op)).toEqual(['contact']);
    const byHand = h.protocol!.addContact({ username: 'fresh', phone_number: '+4930111' }).id;
    const res = await h.cli(['sync', '--output', 'json']);
    expect(res.code, res.stderr).toBe(0);
    expect([...h.protocol!.contacts.values()].filter((c) => c.username === 'fresh')).toHaveLength(1);
    const group = [...h.protocol!.groups.values()].find((g) => g.name === 'Team eng')!;
    expect(group.contacts).toContain(byHand);
  });
});
