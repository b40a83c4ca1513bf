import type { ServerResponse } from 'node:http';

/**
 * Lost answers, shared by the chat sandboxes: a gateway that applied a change and then lost the
 * answer (502/504 from the edge, a reset connection, or an answer so late the client gave up).
 * The sandbox processes the request normally and asks here, only for a successful write, whether
 * its answer is lost and how.
 */

export type LostAs = 502 | 504 | 'drop' | 'slow';

export interface LoseRule {
  method?: string;
  /** a string is the exact pathname; a RegExp is tested on the pathname */
  path?: RegExp | string;
  /** how many matching successful writes lose their answer (default 1; Infinity allowed) */
  times?: number;
  /** default 502 */
  as?: LostAs;
  /** how long a 'slow' answer is held (default 2000) */
  delayMs?: number;
}

export interface LostResponse {
  method: string;
  path: string;
  as: LostAs;
  at: number;
}

export interface LostResponseFaults {
  /** share of successful writes whose answer is lost (seeded, reproducible) */
  lostResponseRatio: number;
  /** how those answers are lost; 'mixed' cycles through 502, 504 and 'drop' */
  lostResponseAs: LostAs | 'mixed';
}

export const LOST_RESPONSE_DEFAULTS: LostResponseFaults = { lostResponseRatio: 0, lostResponseAs: 'mixed' };

/** how one answer is lost */
export interface LostAnswer {
  as: LostAs;
  delayMs: number;
}

const KINDS: readonly LostAs[] = [502, 504, 'drop', 'slow'];
const MIXED: readonly LostAs[] = [502, 504, 'drop'];
const DEFAULT_DELAY_MS = 2000;

const GATEWAY_PAGES: Record<502 | 504, string> = {
  502: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
  504: '<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
};

interface QueuedRule {
  method: string | undefined;
  path: RegExp | string | undefined;
  left: number;
  as: LostAs;
  delayMs: number;
}

export class LostResponses {
  readonly lost: LostResponse[] = [];
  private readonly rules: QueuedRule[] = [];
  private readonly held = new Set<{ timer: NodeJS.Timeout; res: ServerResponse }>();
  private mixedNext = 0;

  /** `faults` is read on every write, so a sandbox's faults can be changed while it runs */
  constructor(
    private readonly faults: LostResponseFaults,
    private readonly random: () => number,
  ) {}

  queue(rule: LoseRule): void {
    const times = rule.times ?? 1;
    if (Number.isNaN(times) || times < 0 || (Number.isFinite(times) && !Number.isInteger(times))) {
      throw new RangeError(`times must be a whole number ≥ 0 or Infinity, not ${times}`);
    }
    const as = rule.as ?? 502;
    if (!KINDS.includes(as)) throw new RangeError(`as must be one of 502, 504, 'drop', 'slow', not ${String(as)}`);
    const delayMs = rule.delayMs ?? DEFAULT_DELAY_MS;
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`delayMs must be a finite number ≥ 0, not ${delayMs}`);
    if (times === 0) return;
    this.rules.push({ method: rule.method?.toUpperCase(), path: rule.path, left: times, as, delayMs });
  }

  /**
   * For a write that succeeded: whether its answer is lost, and how (recorded in `lost`).
   * Queued rules come first, in order; the random draw happens only with a ratio set, so a
   * sandbox without one draws the same ids as before.
   */
  take(method: string, path: string, opts: { namedOnly?: boolean } = {}): LostAnswer | undefined {
    const answer = this.fromRules(method.toUpperCase(), path, opts.namedOnly === true) ?? (opts.namedOnly ? undefined : this.fromRatio());
    if (answer) this.lost.push({ method, path, as: answer.as, at: Date.now() });
    return answer;
  }

  /** writes the answer with `send`, or loses it as decided */
  deliver(res: ServerResponse, answer: LostAnswer | undefined, send: () => void): void {
    if (!answer) return send();
    if (answer.as === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (answer.as === 'slow') {
      const entry = {
        res,
        timer: setTimeout(() => {
          this.held.delete(entry);
          if (!res.destroyed) send();
        }, answer.delayMs),
      };
      this.held.add(entry);
      return;
    }
    res.writeHead(answer.as, { 'content-type': 'text/html', connection: 'close' });
    res.end(GATEWAY_PAGES[answer.as]);
  }

  /** drops answers still held back, so a sandbox stops without waiting for them */
  release(): void {
    for (const entry of this.held) {
      clearTimeout(entry.timer);
      entry.res.socket?.destroy();
    }
    this.held.clear();
  }

  /** `namedOnly`: only a rule that names a path matches (a credential route is lost only when a test asks for it) */
  private fromRules(method: string, path: string, namedOnly = false): LostAnswer | undefined {
    const i = this.rules.findIndex((r) => (r.method === undefined || r.method === method) && (!namedOnly || r.path !== undefined) && pathMatches(r.path, path));
    if (i < 0) return undefined;
    const rule = this.rules[i]!;
    rule.left--;
    if (rule.left <= 0) this.rules.splice(i, 1);
    return { as: rule.as, delayMs: rule.delayMs };
  }

  private fromRatio(): LostAnswer | undefined {
    const { lostResponseRatio: ratio, lostResponseAs: as } = this.faults;
    if (!(ratio > 0) || this.random() >= ratio) return undefined;
    if (as !== 'mixed') return { as, delayMs: DEFAULT_DELAY_MS };
    const next = MIXED[this.mixedNext++ % MIXED.length]!;
    return { as: next, delayMs: DEFAULT_DELAY_MS };
  }
}

function pathMatches(want: RegExp | string | undefined, path: string): boolean {
  if (want === undefined) return true;
  if (typeof want === 'string') return want === path;
  want.lastIndex = 0; // a /g or /y pattern keeps state between tests
  return want.test(path);
}
