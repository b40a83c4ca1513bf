import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/reconcile/progress.js';
import { captureLines } from '../helpers/log-lines.js';

describe('progress', () => {
  it('reports progress as JSON lines when there is no terminal', () => {
    const { lines, stream } = captureLines();
    const p = new Progress(10, pino(stream), undefined, 0);
    for (let i = 0; i < 4; i++) p.tick();
    p.finish();
    const last = JSON.parse(lines.at(-1)!) as { msg: string; progress: { done: number; total: number; perSecond: number } };
    expect(last.msg).toBe('applying');
    expect(last.progress).toMatchObject({ done: 4, total: 10 });
  });

  it('draws one line in place on a terminal', () => {
    const { lines, stream } = captureLines();
    const p = new Progress(3, pino({ level: 'silent' }), stream as unknown as NodeJS.WriteStream);
    p.tick(3);
    p.finish();
    expect(lines.join('')).toMatch(/\r {2}applying 3\/3 calls · [\d.]+\/s/);
  });
});
