import { pino } from 'pino';
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { protocolBackend } from '../../src/backends/protocol/index.js';
import { wireBackend } from '../../src/backends/wire/index.js';
import type { ProtocolBackendConfig, WireBackendConfig } from '../../src/config/schema.js';
import { PermanentError } from '../../src/errors.js';

/**
 * "Gone" is what the API itself says (Wire's `no-conversation`, Protocol's `invalid_request`): a 404
 * of another kind (an API version turned off, `no-endpoint`, a gateway's page) says nothing of the
 * conversation, and taken as "gone" it would unbind it and make it again.
 */
const logger = pino({ level: 'silent' });
const TEAM = '5e0e4a0b-5a5c-4a4b-9a3b-1a2b3c4d5e6f';
const CONV = '11111111-2222-4333-8444-555555555555';
const outcome = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

function wire() {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const pool = agent.get('https://wire.test');
  pool.intercept({ path: '/api-version' }).reply(200, { supported: [6, 7, 8, 9], development: [], domain: 'wire.test', federation: false });
  pool
    .intercept({ path: '/v9/login?persist=true', method: 'POST' })
    .reply(200, { user: 'u', access_token: 'tok', token_type: 'Bearer', expires_in: 900 }, { headers: { 'set-cookie': 'zuid=abc; Path=/access' } });
  const config = {
    type: 'wire',
    conversationType: 'group',
    baseUrl: 'https://wire.test',
    email: 'bot@example.com',
    password: 'bot-password',
    label: 'convsync',
    maxConversationSize: 500,
    apiVersions: { min: 6, max: 9 },
    teamId: TEAM,
  } as WireBackendConfig;
  return { pool, backend: wireBackend.create(config, { logger, dispatcher: agent }) };
}

describe('Wire: a 404 is "gone" only as no-conversation', () => {
  it('reads a conversation answered no-conversation as gone, and unsupported-version or a gateway page as a failure', async () => {
    const { pool, backend } = wire();
    const path = `/v9/conversations/wire.test/${CONV}`;
    pool.intercept({ path }).reply(404, { code: 404, label: 'no-conversation', message: 'Conversation not found' });
    expect(await backend.get(CONV)).toBeUndefined();
    // chosen again once (Wire announces v9 still): answered the same, a failure, not "gone"
    pool.intercept({ path }).reply(404, { code: 404, label: 'unsupported-version', message: 'Version v9 is not supported' });
    pool.intercept({ path: '/api-version' }).reply(200, { supported: [6, 7, 8, 9], development: [], domain: 'wire.test', federation: false });
    pool.intercept({ path }).reply(404, { code: 404, label: 'unsupported-version', message: 'Version v9 is not supported' });
    expect(await outcome(backend.get(CONV))).toEqual({ error: expect.objectContaining({ label: 'unsupported-version' }) });
    pool.intercept({ path }).reply(404, '<html>404 Not Found</html>');
    expect(await outcome(backend.get(CONV))).toEqual({ error: expect.any(PermanentError) });
  });

  it('takes a delete answered no-conversation as done, and no-endpoint as a failure', async () => {
    const { pool, backend } = wire();
    const path = `/v9/teams/${TEAM}/conversations/${CONV}`;
    pool.intercept({ path, method: 'DELETE' }).reply(404, { code: 404, label: 'no-conversation', message: 'Conversation not found' });
    await expect(backend.delete!(CONV)).resolves.toBeUndefined();
    pool.intercept({ path, method: 'DELETE' }).reply(404, { code: 404, label: 'no-endpoint', message: 'The requested endpoint does not exist' });
    await expect(backend.delete!(CONV)).rejects.toBeInstanceOf(PermanentError);
  });

  it('refuses a listing that gives a paging state again, rather than paging for ever', async () => {
    const { pool, backend } = wire();
    let calls = 0;
    pool
      .intercept({ path: '/v9/conversations/list-ids', method: 'POST' })
      .reply(200, () => {
        calls++;
        return { qualified_conversations: [], has_more: calls < 50, paging_state: 'same' };
      })
      .persist();
    expect(await outcome(backend.list!())).toEqual({
      error: expect.objectContaining({ label: 'contract', message: expect.stringMatching(/paging_state given twice/) }),
    });
    expect(calls).toBe(2);
  });
});

describe('Protocol: a 404 is "gone" only as the API\'s invalid_request', () => {
  it('reads a group answered invalid_request as gone, and a 404 page from elsewhere as a failure', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('https://protocol.test');
    const config = {
      type: 'protocol',
      baseUrl: 'https://protocol.test/v1',
      auth: { type: 'bearer', token: 'tok' },
      contacts: { matchOn: 'username', create: false },
      timeoutMs: 2000,
    };
    const backend = protocolBackend.create(config as ProtocolBackendConfig, { logger, dispatcher: agent });
    pool.intercept({ path: '/v1/groups/GroupAAAAAAAAAA1' }).reply(404, { type: 'invalid_request', message: 'No such group' });
    expect(await backend.get('GroupAAAAAAAAAA1')).toBeUndefined();
    pool.intercept({ path: '/v1/groups/GroupAAAAAAAAAA1' }).reply(404, '<html>Not Found</html>');
    expect(await outcome(backend.get('GroupAAAAAAAAAA1'))).toEqual({ error: expect.objectContaining({ label: 'contract' }) });
  });
});
