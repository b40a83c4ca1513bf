import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, envNameToPath, loadConfig } from '../../src/config/load.js';
import { runCli } from '../helpers/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'convsync-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** a small configuration: one SCIM source, then the backend, the mappings and any lines given */
function configText(backend: string, mappings = 'mappings: [{ match: { displayName: "x" }, name: x }]', ...more: string[]): string {
  return [
    'store: { path: ./x.db }',
    'sources: [{ name: corp, type: scim, baseUrl: "https://x/scim/v2", auth: { type: bearer, token: t } }]',
    backend,
    mappings,
    ...more,
  ].join('\n');
}

const EXAMPLE = readFileSync(new URL('../../config/wire-scim.yaml', import.meta.url), 'utf8');

describe('configuration', () => {
  it('accepts the example of the core issue as written', () => {
    const config = loadConfig({ file: file('example.yaml', EXAMPLE), env: {}, checkSecretFiles: false });
    expect(config.sources[0]).toMatchObject({ name: 'corp', type: 'scim', auth: { type: 'bearer', tokenFile: '/run/secrets/scim-token' } });
    expect(config.backend).toMatchObject({ type: 'wire', teamId: '5e0e4a0b-5a5c-4a4b-9a3b-1a2b3c4d5e6f' });
    expect(config.mappings[0]).toMatchObject({ name: 'Team {1}', remove: 'managed' });
    expect(config.mappings[0]!.onGroupRemoved).toBeUndefined(); // the backend's default: keep on Wire
    expect(config.guards).toMatchObject({ maxRemovalsPerRun: 100, maxRemovalRatio: 0.2, protect: [] });
    expect(config.store.path).toBe(join(dir, 'data/convsync.db'));
  });

  it('tells a file that is not YAML by line, column and kind, never quoting it (an inline secret may be what broke it)', () => {
    // the YAML library's warnings would quote an unresolved tag on stderr
    const warned = vi.spyOn(process, 'emitWarning');
    const cases: [string, string][] = [
      ['token: @S3cret-a\n', 'at line 1, column 8: a plain value starts with a reserved character (quote it)'],
      ['a: 1\npassword: ab: S3cret-b\n', 'at line 2, column 11: a value holds ": " (quote it) or a nested mapping is out of place'],
      ['a: "ab"S3cret-c\n', 'at line 1, column 8: there is unexpected text (a value that needs quotes?)'],
      ['token: |S3cret-d\n', 'at line 1, column 9: there is unexpected text (a value that needs quotes?)'],
      ['token: !S3cret-e x\n', 'at line 1, column 8: a !tag is not known'],
      ['token: *S3cret-f\n', ': an alias refers to no anchor before it'],
      ['token: "ab\\US3cret-g"\n', 'at line 1, column 11: a double-quoted value holds an escape sequence that is not valid'],
      ['policy: sync\n---\npolicy: upsert-only # S3cret-h\n', 'at line 2, column 1: the file holds more than one YAML document'],
    ];
    for (const [text, told] of cases) {
      const issues = issuesOf(() => loadConfig({ file: file('broken.yaml', text), env: {}, checkSecretFiles: false }));
      expect(issues[0]!.message, text).toBe(`not valid YAML ${told}`.replace('YAML :', 'YAML:'));
      expect(JSON.stringify(issues)).not.toContain('S3cret');
    }
    expect(warned).not.toHaveBeenCalled();
    warned.mockRestore();
    expect(issuesOf(() => loadConfig({ file: file('loop.yaml', 'x: &a [*a]\n'), env: {}, checkSecretFiles: false }))[0]!.message).toMatch(/alias holds itself/);
  });

  it('reports every problem with its path', () => {
    const bad = EXAMPLE.replace('type: wire', 'type: wyre')
      .replace('remove: managed', 'remove: sometimes')
      .replace('maxRemovalRatio: 0.2', 'maxRemovalRatio: 2');
    const issues = issuesOf(() => loadConfig({ file: file('bad.yaml', bad), env: {}, checkSecretFiles: false }));
    expect(issues.map((i) => i.path).sort()).toEqual(['backend.type', 'guards.maxRemovalRatio', 'mappings[0].remove']);
    expect(issues.find((i) => i.path === 'backend.type')!.message).toMatch(/must be one of: wire/);
  });

  it('rejects unknown keys, bad regexes, missing secrets and unreadable secret files', () => {
    const text = [
      'store: { path: ./x.db }',
      'sources: [{ name: corp, type: scim, baseUrl: "https://x/scim/v2", auth: { type: bearer } }]',
      'backend: { type: wire, baseUrl: "https://w", email: a@b.co, passwordFile: ./missing-password }',
      'mappings: [{ match: { displayName: "(" }, name: x }]',
      'polcy: sync',
    ].join('\n');
    const issues = issuesOf(() => loadConfig({ file: file('many.yaml', text), env: {} }));
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('sources[0].auth.tokenFile');
    expect(paths).toContain('mappings[0].match.displayName');
    expect(issues.some((i) => /polcy/.test(i.message))).toBe(true);

    // the secret file that cannot be read is told in the same pass
    expect(issues.find((i) => i.path === 'backend.passwordFile')?.message).toMatch(/cannot read file .*missing-password \(ENOENT\)/);
    const fine = text.replace('auth: { type: bearer }', 'auth: { type: bearer, token: t }').replace('"("', '"x"').replace('polcy: sync', '');
    const secret = issuesOf(() => loadConfig({ file: file('secret.yaml', fine), env: {} }));
    expect(secret).toEqual([{ path: 'backend.passwordFile', message: expect.stringMatching(/cannot read file .*missing-password \(ENOENT\)/) }]);
    // a folder is no secret file, though it can be read
    const folder = issuesOf(() => loadConfig({ file: file('folder.yaml', fine.replace('./missing-password', '.')), env: {} }));
    expect(folder).toEqual([{ path: 'backend.passwordFile', message: `${dir} is not a file` }]);
    // a mapping that names no source would find no group, and every conversation of it would look gone
    const typo = issuesOf(() =>
      loadConfig({ file: file('typo.yaml', fine.replace('match: { displayName: "x" }', 'match: { source: crop }')), env: {}, checkSecretFiles: false }),
    );
    expect(typo).toEqual([{ path: 'mappings[0].match.source', message: 'no source is named "crop": must be one of corp' }]);
  });

  it('layers file < CONVSYNC_* environment < --set, and interpolates ${VAR}', () => {
    const text = EXAMPLE.replace('email: sync-bot@example.com', 'email: ${BOT_EMAIL}');
    const config = loadConfig({
      file: file('layers.yaml', text),
      env: {
        BOT_EMAIL: 'bot@corp.example',
        CONVSYNC_POLICY: 'upsert-only',
        CONVSYNC_GUARDS__MAX_REMOVALS_PER_RUN: '7',
        CONVSYNC_SOURCES__0__BASE_URL: 'https://other/scim/v2',
      },
      set: ['policy=create-only'],
      checkSecretFiles: false,
    });
    expect(config.backend).toMatchObject({ email: 'bot@corp.example' });
    expect(config.policy).toBe('create-only');
    expect(config.guards.maxRemovalsPerRun).toBe(7);
    expect(config.sources[0]).toMatchObject({ baseUrl: 'https://other/scim/v2' });
    expect(envNameToPath('BACKEND__BASE_URL')).toEqual(['backend', 'baseUrl']);

    const missing = issuesOf(() => loadConfig({ file: file('layers2.yaml', text), env: {}, checkSecretFiles: false }));
    expect(missing).toEqual([{ path: 'backend.email', message: 'environment variable BOT_EMAIL is not set' }]);
    // in a secret's text a `${…}` may be part of the secret: its name is not repeated
    const inSecret = text.replace('passwordFile: /run/secrets/wire-password', 'password: s3${cr3t}x');
    expect(issuesOf(() => loadConfig({ file: file('layers3.yaml', inSecret), env: { BOT_EMAIL: 'b@c.example' }, checkSecretFiles: false }))).toEqual([
      { path: 'backend.password', message: 'an environment variable its ${…} names is not set' },
    ]);
  });

  it('refuses settings that only fail later: a Wire API range upside down, Protocol contacts made without a phone number', () => {
    const text = configText('backend: { type: wire, baseUrl: "https://w.example", email: a@b.co, password: p, apiVersions: { min: 12, max: 9 } }');
    expect(issuesOf(() => loadConfig({ file: file('range.yaml', text), env: {}, checkSecretFiles: false }))).toEqual([
      { path: 'backend.apiVersions.min', message: 'min cannot be above max' },
    ]);
    const protocol = text.replace(
      /backend: .*/,
      'backend: { type: protocol, baseUrl: "https://p.example/v1", auth: { type: bearer, token: t }, contacts: { create: true } }',
    );
    expect(issuesOf(() => loadConfig({ file: file('contacts.yaml', protocol), env: {}, checkSecretFiles: false }))).toEqual([
      { path: 'identity.phoneFrom', message: 'backend.contacts.create needs it: the API makes a contact only with a phone number' },
    ]);
    // a conversation the backend cannot archive or delete: held back as `policy` at every run otherwise
    const onRemoved = (backend: string, action: string) =>
      configText(backend, `mappings: [{ match: { displayName: "x" }, name: x }, { match: { displayName: "y" }, name: y, onGroupRemoved: ${action} }]`);
    const wire = 'backend: { type: wire, baseUrl: "https://w.example", email: a@b.co, password: p }';
    expect(issuesOf(() => loadConfig({ file: file('wire-archive.yaml', onRemoved(wire, 'archive')), env: {}, checkSecretFiles: false }))).toEqual([
      { path: 'mappings[1].onGroupRemoved', message: 'backend wire cannot archive a conversation: must be one of keep, empty, delete' },
    ]);
    const mixin = 'backend: { type: mixin, keystoreFile: ./k.json }';
    expect(issuesOf(() => loadConfig({ file: file('mixin-delete.yaml', onRemoved(mixin, 'delete')), env: {}, checkSecretFiles: false }))).toEqual([
      { path: 'mappings[1].onGroupRemoved', message: 'backend mixin cannot delete a conversation: must be one of keep, empty' },
    ]);
    const protocolArchive = onRemoved('backend: { type: protocol, baseUrl: "https://p.example/v1", auth: { type: bearer, token: t } }', 'archive');
    expect(loadConfig({ file: file('protocol-archive.yaml', protocolArchive), env: {}, checkSecretFiles: false }).mappings[1]!.onGroupRemoved).toBe('archive');
    expect(loadConfig({ file: file('mixin-empty.yaml', onRemoved(mixin, 'empty')), env: {}, checkSecretFiles: false }).mappings[1]!.onGroupRemoved).toBe(
      'empty',
    );
  });

  it('takes text where the schema wants it, numbers from ${VAR}, paths as errors print them, and names what set a wrong key', () => {
    const text = configText(
      'backend: { type: wire, baseUrl: "https://w.example", email: a@b.co, password: from-the-file }',
      'mappings: [{ match: { displayName: "^team-(.+)$" }, name: "Team {1}" }]',
      'server:',
      '  port: ${PORT}',
    );
    const load = (env: Record<string, string>, set: string[] = []) =>
      loadConfig({ file: file('over.yaml', text), env: { PORT: '9090', ...env }, set, checkSecretFiles: false });
    // digits where text is wanted stay the text given (a leading zero kept); ${PORT} fills a number
    const config = load({ CONVSYNC_BACKEND__PASSWORD: '0012345678' }, ['server.syncToken=0123', 'sources[0].baseUrl=https://set/scim/v2']);
    expect(config.backend).toMatchObject({ password: '0012345678' });
    // text is never read as YAML would rewrite it: a comment sign, quotes, spaces, a tag stay as given
    const warned = vi.spyOn(process, 'emitWarning');
    for (const secret of ['abc #1', '"Qu0ted"', '  spaced  ', '!S3cret-tag', '&anchor x']) {
      expect(load({ CONVSYNC_BACKEND__PASSWORD: secret }).backend).toMatchObject({ password: secret });
      expect(
        loadConfig({
          file: file('var.yaml', text.replace('password: from-the-file', 'password: "${PW}"')),
          env: { PORT: '1', PW: secret },
          checkSecretFiles: false,
        }).backend,
      ).toMatchObject({ password: secret });
    }
    expect(warned).not.toHaveBeenCalled();
    warned.mockRestore();
    expect(config.server).toMatchObject({ port: 9090, syncToken: '0123' });
    expect(config.sources[0]).toMatchObject({ baseUrl: 'https://set/scim/v2' });
    // a variable that is no key is named; a Service's links get a word on how to stop them
    const LINKS = 'Kubernetes sets such variables for a Service whose name starts with convsync- unless the pod says enableServiceLinks: false';
    expect(
      issuesOf(() => load({ CONVSYNC_LOG_LEVEL: 'debug', CONVSYNC_CONVSYNC_SERVICE_HOST: '10.0.0.1', CONVSYNC_CONVSYNC_PORT: 'tcp://10.0.0.1:8080' })),
    ).toEqual([
      { path: 'logLevel', message: 'not a configuration key (set by the environment variable CONVSYNC_LOG_LEVEL)' },
      {
        path: 'convsyncServiceHost',
        message: `not a configuration key (set by the environment variable CONVSYNC_CONVSYNC_SERVICE_HOST): ${LINKS}`,
      },
      { path: 'convsyncPort', message: `not a configuration key (set by the environment variable CONVSYNC_CONVSYNC_PORT): ${LINKS}` },
    ]);
    // a secret set by a variable beside the file's secret file: the variable is named
    const withFile = text.replace('password: from-the-file', 'passwordFile: ./pw');
    expect(
      issuesOf(() => loadConfig({ file: file('pair.yaml', withFile), env: { PORT: '1', CONVSYNC_BACKEND__PASSWORD: 's' }, checkSecretFiles: false })),
    ).toEqual([
      { path: 'backend.passwordFile', message: 'give either password or passwordFile, not both (set by the environment variable CONVSYNC_BACKEND__PASSWORD)' },
    ]);
    // an override of one item of a list is of that item only, though YAML made two of one (an alias)
    const aliased = text.replace(/mappings: .*/, 'mappings: [&m { match: { displayName: "^team-(.+)$" }, name: "Team {1}" }, *m]');
    const two = loadConfig({ file: file('alias.yaml', aliased), env: { PORT: '1' }, set: ['mappings[1].name=Other {1}'], checkSecretFiles: false });
    expect(two.mappings.map((m) => m.name)).toEqual(['Team {1}', 'Other {1}']);
    // what is neither a list nor a mapping is judged as read: a YAML 1.1 date is no name, .inf no rate
    const dated = `%YAML 1.1\n---\n${aliased.replace('name: "Team {1}"', 'name: 2024-01-02')}`;
    expect(issuesOf(() => loadConfig({ file: file('date.yaml', dated), env: { PORT: '1' }, checkSecretFiles: false })).map((i) => i.path)).toEqual([
      'mappings[0].name',
      'mappings[1].name',
    ]);
    const inf = issuesOf(() =>
      loadConfig({ file: file('inf.yaml', `${aliased}\nreconcile:\n  ratePerSecond: .inf\n`), env: { PORT: '1' }, checkSecretFiles: false }),
    );
    expect(inf).toEqual([{ path: 'reconcile.ratePerSecond', message: expect.not.stringMatching(/null/) }]);
    // a list needs its index; a value of the wrong kind says where it came from
    expect(issuesOf(() => load({}, ['mappings.name=Foo', 'guards.maxRemovalsPerRun=many']))).toEqual([
      { path: 'mappings.name', message: 'mappings is a list: give the index, e.g. mappings[0].name (set by --set mappings.name)' },
      { path: 'guards.maxRemovalsPerRun', message: 'Invalid input: expected number, received string (set by --set guards.maxRemovalsPerRun)' },
    ]);
  });

  it('every example in config/ validates through the CLI', async () => {
    const examples = readdirSync(new URL('../../config/', import.meta.url)).filter((f) => f.endsWith('.yaml'));
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const name of examples) {
      const res = await runCli(['validate', '--skip-secrets', '--config', join('config', name)], { WIRE_PASSWORD: 'example-secret' });
      expect(res.code, `${name}: ${res.stderr}`).toBe(0);
      // nothing else on stderr: not even V8's word on a flag the CLI sets (src/cli.ts)
      expect(res.stderr, name).toBe('');
    }
  });

  it('`convsync validate` and `convsync daemon` refuse a schedule node-cron cannot run, and take one it can', async () => {
    const secret = file('secret', 'not-a-real-secret\n');
    const bad = file('schedule.yaml', EXAMPLE.replace('schedule: "*/5 * * * *"', 'schedule: "99 * * * *"').replace(/\/run\/secrets\/[\w-]+/g, secret));
    for (const command of ['validate', 'daemon']) {
      const res = await runCli([command, '--config', bad]);
      expect(res.code, res.stderr).toBe(78);
      expect(res.stderr).toMatch(/- schedule: "99 \* \* \* \*" is not a cron expression node-cron can run/);
      expect(res.stderr).not.toMatch(/listening/);
    }
    // told with the configuration's other problems, in one pass
    const both = await runCli(['validate', '--config', file('both.yaml', readFileSync(bad, 'utf8').replace('policy: sync', 'policy: mirror'))]);
    expect(both.stderr).toMatch(/configuration error in 2 place\(s\):\n {2}- policy: .*\n {2}- schedule: "99/);
    const weekdays = await runCli([
      'validate',
      '--skip-secrets',
      '--config',
      file('weekdays.yaml', EXAMPLE.replace('schedule: "*/5 * * * *"', 'schedule: "0 9 * * mon-fri"')),
    ]);
    expect(weekdays.code, weekdays.stderr).toBe(0);
    expect(
      issuesOf(() =>
        loadConfig({
          file: file('ftp.yaml', EXAMPLE.replace('baseUrl: https://prod-nginz-https.wire.com', 'baseUrl: ftp://wire.example')),
          env: {},
          checkSecretFiles: false,
        }),
      ),
    ).toEqual([{ path: 'backend.baseUrl', message: 'must be an absolute URL (http:// or https://)' }]);
  });

  it('`convsync validate` reads what a Mixin keystore holds, not only that it can be read', async () => {
    const keystore = file('keystore.json', '{ "app_id": "not-a-uuid" }');
    const text = configText(`backend: { type: mixin, keystoreFile: ${keystore} }`, undefined, 'identity: { from: externalId }');
    const res = await runCli(['validate', '--config', file('mixin.yaml', text)]);
    expect(res.code).toBe(78);
    expect(res.stderr).toMatch(/- backend\.keystoreFile: the Mixin keystore .*keystore\.json is not a bot keystore/);
    expect((await runCli(['validate', '--skip-secrets', '--config', file('mixin.yaml', text)])).code).toBe(0);
    // a run tells it the same way: a configuration error, before any request
    const sync = await runCli([
      'sync',
      '--dry-run',
      '--config',
      file('mixin-sync.yaml', `${text}\nstore: { path: ${join(dir, 'mixin.db')} }`.replace('store: { path: ./x.db }\n', '')),
    ]);
    expect(sync.code).toBe(78);
    expect(sync.stderr).toMatch(/backend\.keystoreFile: the Mixin keystore .*keystore\.json is not a bot keystore/);
  });

  it('`convsync validate` names a file source whose path is not there (every run would fail to read it)', async () => {
    const text = [
      'store: { path: ./x.db }',
      `sources: [{ name: corp, type: file, path: ${join(dir, 'no-such-directory.yaml')} }, { name: here, type: file, path: ${dir} }]`,
      'backend: { type: protocol, baseUrl: "https://p.example/v1", auth: { type: bearer, token: t } }',
      'mappings: [{ match: { displayName: "x" }, name: x }]',
    ].join('\n');
    const res = await runCli(['validate', '--config', file('missing-file.yaml', text)]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain(`- sources[0].path: ${join(dir, 'no-such-directory.yaml')}: no such file or directory`);
    expect(res.stderr).not.toContain('sources[1]');
    expect((await runCli(['validate', '--skip-secrets', '--config', file('missing-file.yaml', text)])).code).toBe(0);
  });

  it('`convsync validate` prints every mistake, the secret files it cannot read too, with their paths and exits 78', async () => {
    const bad = EXAMPLE.replace('policy: sync', 'policy: mirror')
      .replace('baseUrl: https://prod-nginz-https.wire.com', 'baseUrl: not-a-url')
      .replace('identity: { from: externalId }', 'identity: { from: externalId, lookups: handle }');
    const res = await runCli(['validate', '--config', file('three.yaml', bad)]);
    expect(res.code).toBe(78);
    expect(res.stderr).toMatch(/configuration error in 5 place\(s\)/);
    expect(res.stderr).toMatch(/- backend\.passwordFile: cannot read file \/run\/secrets\/wire-password \(ENOENT\)/);
    expect(res.stderr).toMatch(/- policy: must be one of: sync, upsert-only, create-only/);
    expect(res.stderr).toMatch(/- backend\.baseUrl: must be an absolute URL/);
    expect(res.stderr).toMatch(/- identity: Unrecognized key: "lookups"/);
  });
});
