import { first, type LdapEntry } from './entry.js';

/** RFC 4517 §3.3.13 GeneralizedTime: YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|±HH[MM]) */
const GENERALIZED = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$/;

/** a GeneralizedTime as epoch milliseconds; undefined when it is not one */
export function parseGeneralizedTime(value: string): number | undefined {
  const m = GENERALIZED.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi = '00', s = '00', fraction, zone] = m;
  // a fraction belongs to the last unit given (minutes or hours too, RFC 4517); seconds is the common case
  const unitMs = m[6] !== undefined ? 1000 : m[5] !== undefined ? 60_000 : 3_600_000;
  const frac = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * unitMs);
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + frac;
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(3, 5) || 0)) * 60_000;
  }
  return Number.isNaN(ms) ? undefined : ms;
}

/** epoch milliseconds as the GeneralizedTime a filter compares with, whole seconds (rounded down) */
export function formatGeneralizedTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/** the latest of the entries' `attribute` (a GeneralizedTime), or undefined when none carries one */
export function highestStamp(entries: readonly LdapEntry[], attribute: string): number | undefined {
  let highest: number | undefined;
  for (const e of entries) {
    const raw = first(e, attribute);
    const ms = raw === undefined ? undefined : parseGeneralizedTime(raw);
    if (ms !== undefined && (highest === undefined || ms > highest)) highest = ms;
  }
  return highest;
}
