import type { Request, Response } from 'express';
import type { StatusPageControl, LiveRun } from './control.js';
import { liveText } from './pages/overview.js';

/** streams end after this long (the browser's EventSource reconnects), so none is held for ever */
const STREAM_MS = 10 * 60_000;
const KEEP_ALIVE_MS = 15_000;
const MAX_STREAMS = 20;

function payload(live: LiveRun | undefined) {
  if (!live) return { running: false, text: 'No run in flight.' };
  return { running: true, text: liveText(live), ...(live.progress ? { done: live.progress.done, total: live.progress.total } : {}) };
}

/** GET /ui/events: the run in flight as server-sent events, one `live` event per change */
export class LiveEvents {
  private open = 0;

  constructor(private readonly daemon: StatusPageControl) {}

  readonly handle = (req: Request, res: Response): void => {
    if (this.open >= MAX_STREAMS) {
      res.status(503).set('retry-after', '30').type('text').send('too many live views open; try again later');
      return;
    }
    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // a HEAD has no body to stream: answered at once, it holds no stream open
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.open++;
    res.flushHeaders();
    const send = (live: LiveRun | undefined) => void res.write(`event: live\ndata: ${JSON.stringify(payload(live))}\n\n`);
    send(this.daemon.live());
    const unwatch = this.daemon.watch(send);
    const beat = setInterval(() => res.write(': still here\n\n'), KEEP_ALIVE_MS);
    const end = setTimeout(() => res.end(), STREAM_MS);
    res.on('close', () => {
      this.open--;
      unwatch();
      clearInterval(beat);
      clearTimeout(end);
    });
  };
}
