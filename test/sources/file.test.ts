import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../src/sources/file/index.js';

const run = (path: string) => fileSource.create({ name: 'git', type: 'file', path }).fetch();

describe('file source', () => {
  it('reads a directory of YAML and JSON files, with nested groups and deactivated users', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-file-'));
    writeFileSync(join(dir, 'users.yaml'), 'users:\n  - { id: a, userName: alice, externalId: x1 }\n  - { id: b, userName: bob, active: false }\n');
    writeFileSync(
      join(dir, 'groups.json'),
      JSON.stringify({
        groups: [
          { id: 'all', displayName: 'team-all', members: ['eng', 'b'] },
          { id: 'eng', displayName: 'team-eng', members: ['a', 'all', 'ghost'] },
        ],
      }),
    );
    writeFileSync(join(dir, 'README.txt'), 'ignored');
    const res = await run(dir);
    expect(res.listingComplete).toBe(true);
    const byId = Object.fromEntries(res.groups.map((g) => [g.id, g.members.map((m) => `${m.id}:${m.active}`).sort()]));
    expect(byId).toEqual({ all: ['a:true', 'b:false'], eng: ['a:true', 'b:false'] });
    expect(res.groups[0]!.key).toBe('git:all');
    expect(res.warnings).toEqual(['file source git: group eng lists unknown member ghost']);
  });

  it('says so when a group is defined more than once, and uses the last definition', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-file-'));
    writeFileSync(join(dir, 'a.yaml'), 'users: [{ id: a }, { id: b }]\ngroups: [{ id: eng, displayName: team-eng, members: [a] }]\n');
    writeFileSync(join(dir, 'b.yaml'), 'groups: [{ id: eng, displayName: team-eng, members: [b] }]\n');
    const res = await run(dir);
    expect(res.groups.map((g) => [g.id, g.members.map((m) => m.id)])).toEqual([['eng', ['b']]]);
    expect(res.warnings).toEqual([`file source git: group eng is defined more than once; the last definition (in ${join(dir, 'b.yaml')}) is used`]);
  });

  it('fails with the file and the path of the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-file-'));
    writeFileSync(join(dir, 'bad.yaml'), 'groups:\n  - { id: g, members: [a] }\n');
    await expect(run(dir)).rejects.toThrow(/bad\.yaml: groups\[0\]\.displayName/);
    await expect(run(join(dir, 'nope'))).rejects.toThrow(/cannot read .*nope: ENOENT/);
  });

  it('fails on a file that holds no mapping, rather than read it as a file listing nobody', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-file-'));
    const groups = join(dir, 'groups.yaml');
    for (const [text, got] of [
      ['!!omap\n- users: [{ id: a }]\n- groups: [{ id: g, displayName: team-g, members: [a] }]\n', 'a Map'],
      ['%YAML 1.1\n--- !!set\n? users\n? groups\n', 'a Set'],
      ['%YAML 1.1\n--- 2024-01-01\n', 'a Date'],
      ['- users\n', 'a list'],
      ['team\n', 'a string'],
    ] as const) {
      writeFileSync(groups, text);
      await expect(run(dir), text).rejects.toThrow(`groups.yaml: expected a mapping of users and groups, got ${got}`);
    }
    // an empty file lists nobody, as it says
    writeFileSync(groups, '# nobody yet\n');
    expect((await run(dir)).groups).toEqual([]);
    // a JSON file holding null is a bad write, not a file listing nobody (its groups would read as gone)
    rmSync(groups);
    for (const [text, got] of [
      ['null', 'null'],
      ['"x"', 'a string'],
      ['[]', 'a list'],
    ] as const) {
      writeFileSync(join(dir, 'groups.json'), text);
      await expect(run(dir), text).rejects.toThrow(`groups.json: expected a mapping of users and groups, got ${got}`);
    }
  });

  it('fails with the file on a YAML alias inside itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-file-'));
    writeFileSync(join(dir, 'users.yaml'), 'users:\n  - &u { id: a, self: *u }\n');
    await expect(run(dir)).rejects.toThrow(/users\.yaml: .*circular/);
  });
});
