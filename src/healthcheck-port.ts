import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** the daemon's port, written once it listens, for the image's HEALTHCHECK */
export const HEALTHCHECK_PORT_FILE = join(tmpdir(), 'convsync-daemon.port');
