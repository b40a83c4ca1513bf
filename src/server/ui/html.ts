/**
 * The page's one escaping rule: every value put into a template with `html` is escaped, unless it
 * is itself the result of `html` (already escaped markup). Names of groups, conversations and
 * users come from the IdP and from chat users: none of them reaches a page unescaped.
 */
const MARKUP = Symbol('markup');

export interface Html {
  readonly [MARKUP]: true;
  readonly text: string;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function isHtml(v: unknown): v is Html {
  return typeof v === 'object' && v !== null && (v as Html)[MARKUP] === true;
}

function piece(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (isHtml(v)) return v.text;
  if (Array.isArray(v)) return v.map(piece).join('');
  return escape(String(v));
}

/** a template whose values are escaped (arrays are joined; undefined, null and false are left out) */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0]!;
  values.forEach((v, i) => {
    text += piece(v) + strings[i + 1]!;
  });
  return { [MARKUP]: true, text };
}
