import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';

/**
 * A renderer for the subset of Helm's template language the chart uses (define/include, if/else,
 * with, range, pipelines with default, quote, toYaml, nindent, indent, printf, print, trunc,
 * trimSuffix, sha256sum, eq, and, or, not). It exists because helm cannot be installed here; it is
 * not helm, and the chart README says what that leaves unverified. Unknown syntax throws.
 */

type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; p: string }
  | { t: 'if'; branches: { cond: string | null; body: Node[] }[] }
  | { t: 'with' | 'range'; p: string; body: Node[] }
  | { t: 'define'; name: string; body: Node[] };

function tokenize(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    const close = src.indexOf('}}', open);
    if (close < 0) throw new Error('unclosed {{');
    let inner = src.slice(open + 2, close);
    if (inner.startsWith('-')) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    let after = close + 2;
    if (inner.endsWith('-')) {
      inner = inner.slice(0, -1);
      while (after < src.length && /\s/.test(src[after]!)) after++;
    }
    out.push({ text });
    inner = inner.trim();
    if (!inner.startsWith('/*')) out.push({ action: inner });
    i = after;
  }
  return out;
}

function parse(src: string): Node[] {
  const tokens = tokenize(src);
  let pos = 0;
  const block = (): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++]!;
      if ('text' in tok) {
        if (tok.text) nodes.push({ t: 'text', s: tok.text });
        continue;
      }
      const a = tok.action;
      if (a === 'end' || a === 'else' || a.startsWith('else if ')) return { nodes, end: a };
      let m: RegExpExecArray | null;
      if ((m = /^if (.+)$/.exec(a))) {
        const branches: { cond: string | null; body: Node[] }[] = [];
        let cond: string | null = m[1]!;
        for (;;) {
          const b = block();
          branches.push({ cond, body: b.nodes });
          if (b.end === 'end') break;
          cond = b.end === 'else' ? null : b.end.slice('else if '.length);
        }
        nodes.push({ t: 'if', branches });
      } else if ((m = /^(with|range) (.+)$/.exec(a))) {
        const b = block();
        if (b.end !== 'end') throw new Error(`${m[1]} with else is not supported`);
        nodes.push({ t: m[1] as 'with' | 'range', p: m[2]!, body: b.nodes });
      } else if ((m = /^define "([^"]+)"$/.exec(a))) {
        nodes.push({ t: 'define', name: m[1]!, body: block().nodes });
      } else nodes.push({ t: 'out', p: a });
    }
    return { nodes, end: '' };
  };
  return block().nodes;
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export class HelmRenderer {
  private readonly defines = new Map<string, Node[]>();
  private readonly files = new Map<string, string>();
  private readonly chart: { name: string; version: string; appVersion: string };

  constructor(private readonly chartDir: string) {
    this.chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };
    for (const f of readdirSync(join(chartDir, 'templates'))) {
      const text = readFileSync(join(chartDir, 'templates', f), 'utf8');
      this.files.set(`${this.chart.name}/templates/${f}`, text);
      for (const n of parse(text)) if (n.t === 'define') this.defines.set(n.name, n.body);
    }
  }

  /** every template that produces output, by file name; values are merged over values.yaml */
  render(overrides: Record<string, unknown>, release = 'rel'): Map<string, string> {
    const defaults = parseYaml(readFileSync(join(this.chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const root = {
      Values: merge(defaults, overrides),
      Release: { Name: release, Namespace: 'default', Service: 'Helm' },
      Chart: { Name: this.chart.name, Version: this.chart.version, AppVersion: this.chart.appVersion },
      Template: { BasePath: `${this.chart.name}/templates` },
    };
    const out = new Map<string, string>();
    for (const [path, text] of this.files) {
      const file = path.split('/').pop()!;
      if (file.startsWith('_') || file.endsWith('.txt')) continue;
      const rendered = this.exec(parse(text), root, root);
      if (rendered.trim()) out.set(file, rendered);
    }
    return out;
  }

  private exec(nodes: Node[], dot: unknown, root: unknown): string {
    let s = '';
    for (const n of nodes) {
      if (n.t === 'text') s += n.s;
      else if (n.t === 'out') s += show(this.pipe(n.p, dot, root));
      else if (n.t === 'if') {
        const branch = n.branches.find((b) => b.cond === null || truthy(this.pipe(b.cond, dot, root)));
        if (branch) s += this.exec(branch.body, dot, root);
      } else if (n.t === 'with') {
        const v = this.pipe(n.p, dot, root);
        if (truthy(v)) s += this.exec(n.body, v, root);
      } else if (n.t === 'range') {
        const v = this.pipe(n.p, dot, root);
        for (const item of Array.isArray(v) ? v : []) s += this.exec(n.body, item, root);
      }
    }
    return s;
  }

  private pipe(expr: string, dot: unknown, root: unknown): unknown {
    const cmds = split(expr, '|');
    let value: unknown;
    cmds.forEach((cmd, i) => {
      const args = split(cmd, ' ').filter((a) => a !== '');
      value = this.call(args, dot, root, i === 0 ? undefined : { value });
    });
    return value;
  }

  private arg(a: string, dot: unknown, root: unknown): unknown {
    if (a.startsWith('(')) return this.pipe(a.slice(1, -1), dot, root);
    if (a.startsWith('"')) return JSON.parse(a) as string;
    if (/^-?\d+$/.test(a)) return Number(a);
    if (a === '.') return dot;
    if (a.startsWith('$.') || a === '$') return path(root, a.slice(2));
    if (a.startsWith('.')) return path(dot, a.slice(1));
    if (a === 'true' || a === 'false') return a === 'true';
    throw new Error(`unsupported argument ${a}`);
  }

  private call(args: string[], dot: unknown, root: unknown, piped?: { value: unknown }): unknown {
    const [head, ...rest] = args;
    const fn = FUNCS[head!];
    if (!fn && head !== 'include') {
      if (rest.length > 0 || piped) throw new Error(`unknown function ${head}`);
      return this.arg(head!, dot, root);
    }
    const vals = rest.map((a) => this.arg(a, dot, root));
    if (piped) vals.push(piped.value);
    if (head === 'include') {
      const name = vals[0] as string;
      const body = this.defines.get(name);
      if (body) return this.exec(body, vals[1], root);
      const file = this.files.get(name);
      if (file) return this.exec(parse(file), vals[1], root);
      throw new Error(`include of unknown ${name}`);
    }
    return fn!(...vals);
  }
}

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  default: (d, v) => (truthy(v) ? v : d),
  quote: (v) => JSON.stringify(show(v)),
  toYaml: (v) => (v === undefined || v === null ? 'null' : stringify(v).replace(/\n$/, '')),
  nindent: (n, s) => `\n${indentBy(Number(n), show(s))}`,
  indent: (n, s) => indentBy(Number(n), show(s)),
  printf: (f, ...a) => show(f).replace(/%[sd]/g, () => show(a.shift())),
  print: (...a) => a.map(show).join(''),
  trunc: (n, s) => show(s).slice(0, Number(n)),
  trimSuffix: (suf, s) => (show(s).endsWith(show(suf)) ? show(s).slice(0, -show(suf).length) : show(s)),
  sha256sum: (s) => createHash('sha256').update(show(s)).digest('hex'),
  eq: (a, b) => a === b,
  and: (...a) => a.every(truthy),
  or: (...a) => a.some(truthy),
  not: (a) => !truthy(a),
};

function indentBy(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return s
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}

function path(v: unknown, p: string): unknown {
  if (!p) return v;
  return p.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);
}

/** splits on `sep` outside quotes and parentheses */
function split(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    if (!quoted && c === '(') depth++;
    if (!quoted && c === ')') depth--;
    if (!quoted && depth === 0 && c === sep) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
