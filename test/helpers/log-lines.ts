import { Writable } from 'node:stream';

/** a stream that keeps each line written to it (a logger's JSON lines, a progress line drawn in place) */
export function captureLines() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}
