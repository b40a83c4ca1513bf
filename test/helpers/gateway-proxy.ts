import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export type Decision =
  | { kind: 'pass' }
  /** upstream processes it late: the request is forwarded only after delayMs, whatever the client does */
  | { kind: 'late'; delayMs: number }
  /** a gateway error without forwarding anything (nothing applied) */
  | { kind: 'fail'; status: number }
  /** forwarded, applied, and the answer body replaced */
  | { kind: 'mangle'; body: (text: string) => string };

/** a reverse proxy in front of a sandbox, for what a real gateway does that a sandbox cannot: commit a request late, fail without forwarding it, or garble an answer */
export async function startProxy(
  target: string,
  decide: (method: string, path: string) => Decision,
): Promise<{ url: string; stop(): Promise<void>; log: string[] }> {
  const log: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const method = req.method ?? 'GET';
        const path = req.url ?? '/';
        const d = decide(method, new URL(path, 'http://x').pathname);
        log.push(`${method} ${path} ${d.kind}`);
        if (d.kind === 'fail') {
          res.writeHead(d.status, { 'content-type': 'text/html' });
          res.end('<html>bad gateway</html>');
          return;
        }
        if (d.kind === 'late') await sleep(d.delayMs);
        const headers = { ...req.headers };
        delete headers.host;
        delete headers['content-length'];
        delete headers.connection;
        const up = await request(target + path, { method: method as 'GET', headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        let text = await up.body.text();
        if (d.kind === 'mangle') text = d.body(text);
        if (res.destroyed || res.writableEnded) return;
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers))
          if (v !== undefined && k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
        res.writeHead(up.statusCode, out);
        res.end(text);
      })().catch((e: unknown) => {
        log.push(`proxy error ${String(e)}`);
        if (!res.destroyed) res.destroy();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    log,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
