import * as z from 'zod';
import { PermanentError } from '../../errors.js';
import { parseJson, type HttpResponse } from '../../http/request.js';

/** The answers of the Protocol API that convsync reads, and how its listings page (reference: mixin-protocol-api.md). */

export const Contact = z.looseObject({ id: z.string(), username: z.string(), phone_number: z.string().nullish() });
export const Group = z.looseObject({
  id: z.string(),
  name: z.string(),
  conversation_id: z.string().nullish(),
  contacts: z.array(z.union([Contact, z.looseObject({ id: z.string() })])),
  description: z.string().nullish(),
  archived_at: z.number().nullish(),
  created_at: z.number().nullish(),
});
export type Group = z.infer<typeof Group>;
export const List = <T extends z.ZodType>(item: T) => z.looseObject({ has_more: z.boolean(), data: z.array(item) });

/** our label for a 400 caused by contact ids Protocol does not know (deleted since they were looked up) */
export const UNKNOWN_CONTACT_LABEL = 'unknown-contact';
export const unknownContact = (ids: string[]) =>
  new PermanentError(`Protocol does not know contact(s) ${ids.join(', ')}`, { origin: 'protocol', status: 400, label: UNKNOWN_CONTACT_LABEL });

/** the API's own answer that an id is unknown (a 404 `invalid_request`), not a 404 from something in front of it */
export function isUnknownId(res: HttpResponse): boolean {
  return (parseJson(res.text) as { type?: unknown } | undefined)?.type === 'invalid_request';
}

/**
 * Where the next page starts, or undefined after the last. A page that says more follow yet holds
 * nothing is outside the contract: taken as the end, it would hide every item after it (a
 * conversation made again, a contact taken as no one's). One that ends where an earlier page
 * ended would be asked for again and again. `seen`: where the pages of this listing ended so far.
 */
export function nextPage(page: { has_more: boolean; data: { id: string }[] }, seen: Set<string>, what: string): string | undefined {
  if (!page.has_more) return undefined;
  const last = page.data.at(-1)?.id;
  const outside = last === undefined ? 'has_more with an empty page' : seen.has(last) ? `a page that ends at ${last} again` : undefined;
  if (outside !== undefined) throw new PermanentError(`${what}: ${outside} (outside the Protocol contract)`, { origin: 'protocol', label: 'contract' });
  seen.add(last!);
  return last;
}
