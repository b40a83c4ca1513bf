import SCIMMY from 'scimmy';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** the detail of a 500 answered when SQLite stayed locked past its wait: the IdP sends the request again */
export const BUSY_DETAIL = 'the store is busy; send the request again';

/** a SCIM error answer (RFC 7644 §3.12): what scimmy's routers and ours send back as is */
export type ScimError = InstanceType<typeof SCIMMY.Types.Error>;

export function scimError(status: number, scimType: string | null | undefined, detail: string): ScimError {
  return new SCIMMY.Types.Error(status, (scimType ?? null) as never, detail);
}

export function isScimError(e: unknown): e is ScimError & { status: number; scimType?: string; message: string } {
  return e instanceof SCIMMY.Types.Error;
}

/** the SCIM error body, for routes answered outside scimmy's routers */
export function errorBody(status: number, detail: string, scimType?: string) {
  return { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail };
}
