/** `{0}`, `{1}`… and `{name}` from a regex match, for templates that name conversations or group keys */
export function regexVars(found: RegExpExecArray | string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  found.forEach((g, n) => (vars[String(n)] = g ?? ''));
  for (const [name, g] of Object.entries((found as RegExpExecArray).groups ?? {})) vars[name] = g ?? '';
  return vars;
}

/** a template with its `{var}`s filled in; an unknown one is left as written */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => vars[name] ?? whole).trim();
}
