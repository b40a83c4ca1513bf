#!/usr/bin/env node
/**
 * Docker HEALTHCHECK for `convsync daemon`: GET /healthz on the daemon's port (slim images have
 * no curl). The port is the one the daemon wrote once it listened (whatever its configuration
 * says), else CONVSYNC_SERVER__PORT, else the default 8080.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { HEALTHCHECK_PORT_FILE } from './healthcheck-port.js';

function written(): number | undefined {
  try {
    const port = Number(readFileSync(HEALTHCHECK_PORT_FILE, 'utf8').trim());
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

const port = written() ?? Number(process.env.CONVSYNC_SERVER__PORT ?? 8080);
const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 3000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
