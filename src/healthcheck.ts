#!/usr/bin/env node
/**
 * Docker HEALTHCHECK for `convsync daemon`: GET /healthz on the daemon's port (slim images have
 * no curl). The port is CONVSYNC_SERVER__PORT when set, else the default 8080.
 */
import { request } from 'node:http';

const port = Number(process.env.CONVSYNC_SERVER__PORT ?? 8080);
const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 3000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
