import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/** backend.teamId as some tools print a GUID (upper case): Wire takes it, and answers `team` in lower case. */
describe('Wire: backend.teamId in upper case', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('a create whose answer was lost is adopted, never made a second time', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 4 });
    h.writeConfig({
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId.toUpperCase() },
    });
    h.wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations$/, as: 'drop' });
    await h.cli(['sync']);
    expect(h.wire.lost).toHaveLength(1);
    const again = await h.cli(['sync']);
    await h.cli(['sync']);
    const named = [...h.wire.conversations.values()].filter((c) => c.name === 'Team eng');
    expect(named, again.stderr).toHaveLength(1);
  });
});
