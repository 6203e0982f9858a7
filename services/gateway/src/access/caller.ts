import type { Principal } from "@conclave/auth";

/** Who is calling a gateway route, once authenticated: a signer, or the holder of a session token. */
export interface Caller {
  credential: "signed" | "bearer";
  /** For bearer tokens: the user's current record, with the token's scopes narrowed to what the user still has. */
  principal: Principal;
  /** The session token's id and expiry (bearer only). */
  jti?: string;
  exp?: number;
}
