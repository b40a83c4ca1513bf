import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../src/log.js';
import { Progress } from '../../src/reconcile/progress.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('logging', () => {
  it('redacts secrets wherever they travel', () => {
    const { lines, stream } = capture();
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } }, stream);
    log.info({ password: 'p1', auth: { token: 't1', clientSecret: 'c1' }, req: { headers: { authorization: 'Bearer t2', cookie: 'zuid=z' } } }, 'x');
    expect(lines[0]).not.toMatch(/p1|t1|c1|t2|zuid=z/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ password: '[REDACTED]', auth: { token: '[REDACTED]', clientSecret: '[REDACTED]' } });
  });

  it('reports progress as JSON lines when there is no terminal', () => {
    const { lines, stream } = capture();
    const p = new Progress(10, pino(stream), undefined, 0);
    for (let i = 0; i < 4; i++) p.tick();
    p.finish();
    const last = JSON.parse(lines.at(-1)!) as { msg: string; progress: { done: number; total: number; perSecond: number } };
    expect(last.msg).toBe('applying');
    expect(last.progress).toMatchObject({ done: 4, total: 10 });
  });

  it('draws one line in place on a terminal', () => {
    const { lines, stream } = capture();
    const p = new Progress(3, pino({ level: 'silent' }), stream as unknown as NodeJS.WriteStream);
    p.tick(3);
    p.finish();
    expect(lines.join('')).toMatch(/\r {2}applying 3\/3 calls · [\d.]+\/s/);
  });
});
