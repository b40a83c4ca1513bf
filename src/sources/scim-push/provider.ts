import SCIMMY from 'scimmy';
import type { Store } from '../../store/store.js';
import { isScimError, scimError } from './errors.js';
import { userOut } from './format.js';
import type { PushContext } from './context.js';
import { addMissingTypedValues, normalizeEntraBooleans } from './entra.js';
import type { ResourceKind } from './format.js';
import { listResources, readResource, searchResources, type ListParams } from './list.js';
import { patchGroup } from './patch-group.js';
import { declareResources, SERVICE_PROVIDER_CONFIG } from './resources.js';
import { refuseIllFormedText } from './text-check.js';

/** A SCIM answer the router sends as it is. */
export interface ScimAnswer {
  status: number;
  body?: unknown;
}

/** The SCIM service provider of one `scim-push` source: what the daemon's router hands requests to. */
export interface ScimSourceProvider {
  /** scimmy's handlers get this as their context (users and groups by id, POST, PUT, user PATCH, DELETE) */
  readonly context: PushContext;
  /** `GET /Users`, `GET /Groups` */
  list(kind: ResourceKind, query: ListParams): ScimAnswer;
  /** `GET /Users/{id}`, `GET /Groups/{id}` */
  read(kind: ResourceKind, id: string, query: ListParams): ScimAnswer;
  /** `POST /.search` on one kind or on both */
  search(kinds: ResourceKind[], body: unknown): ScimAnswer;
  patchGroup(id: string, body: unknown): ScimAnswer;
  /**
   * Before scimmy applies `PATCH /Users/{id}`: Entra's `add` of a typed value the user lacks made an
   * add of that value; a PATCH scimmy fails on with an error of its own (a TypeError, which its
   * routers answer 500 and the IdP sends again) refused with 400 (a SCIM error thrown)
   */
  prepareUserPatch(id: string, body: unknown): Promise<void>;
}

export interface ScimPushProvider {
  /** what /ServiceProviderConfig advertises */
  readonly serviceProviderConfig: typeof SERVICE_PROVIDER_CONFIG;
  /**
   * Before scimmy or the provider reads a body: text that is not well-formed Unicode refused (a
   * SCIM error thrown), Entra's string booleans made booleans
   */
  prepareBody(body: unknown): void;
  /**
   * The provider of the source named `source`, served at `path`; `onChange` gets the ids (at the
   * source) of the groups a request changed.
   */
  open(store: Store, source: { name: string; path: string }, onChange: (groupIds: string[]) => void): ScimSourceProvider;
}

/** convsync as the SCIM 2.0 service provider Entra ID and Okta push users and groups to */
export const scimPushProvider = {
  serviceProviderConfig: SERVICE_PROVIDER_CONFIG,
  prepareBody(body) {
    refuseIllFormedText(body);
    normalizeEntraBooleans(body);
  },
  open(store, source, onChange) {
    declareResources();
    // what an unfiltered listing counts, counted before the first request rather than during it
    store.push.userCount(source.name);
    store.push.groupCount(source.name);
    try {
      store.push.rendered.forgetUnlessAt(source.name, source.path);
    } catch {
      // a store another writer holds: the answers name the former path until they are written again
    }
    const context: PushContext = {
      store,
      source: source.name,
      path: source.path,
      changed: (groupIds) => {
        if (groupIds.length > 0) onChange([...new Set(groupIds)]);
      },
    };
    return {
      context,
      list: (kind, query) => ({ status: 200, body: listResources(context, kind, query) }),
      read: (kind, id, query) => ({ status: 200, body: readResource(context, kind, id, query) }),
      search: (kinds, body) => ({ status: 200, body: searchResources(context, kinds, body) }),
      prepareUserPatch: async (id, body) => {
        const user = store.push.user(source.name, id);
        if (!user) return;
        addMissingTypedValues(body, user.resource);
        try {
          // applied to the user as scimmy reads it, written nowhere: scimmy's routers apply it for real
          await new SCIMMY.Messages.PatchOp(structuredClone(body) as never).apply(
            new SCIMMY.Schemas.User(userOut(user), 'out'),
            async (patched: unknown) => patched as never,
          );
        } catch (e) {
          if (!isScimError(e))
            throw scimError(400, 'invalidPath', 'an operation of the PATCH names a path or value that cannot be applied to this user: nothing was changed');
        }
      },
      patchGroup: (id, body) => {
        patchGroup(context, id, body);
        return { status: 204 };
      },
    };
  },
} satisfies ScimPushProvider;
