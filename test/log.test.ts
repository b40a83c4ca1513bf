import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../src/log.js';
import { captureLines } from './helpers/log-lines.js';

describe('logging', () => {
  it('redacts secrets wherever they travel', () => {
    const { lines, stream } = captureLines();
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } }, stream);
    log.info({ password: 'p1', auth: { token: 't1', clientSecret: 'c1' }, req: { headers: { authorization: 'Bearer t2', cookie: 'zuid=z' } } }, 'x');
    expect(lines[0]).not.toMatch(/p1|t1|c1|t2|zuid=z/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ password: '[REDACTED]', auth: { token: '[REDACTED]', clientSecret: '[REDACTED]' } });
  });
});
