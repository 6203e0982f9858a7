import { verify } from "node:crypto";
import { publicKeyObject } from "@conclave/auth";
import { Prefix } from "@nats-io/nkeys";
import { Codec } from "@nats-io/nkeys/lib/codec.js";
import { z } from "zod";

/**
 * What nats-server sends on $SYS.REQ.USER.AUTH: a JWT, signed by the server's
 * own key, whose `nats` claim is the authorization request. Only the fields
 * the admission uses are read; the rest is the server's business.
 */
const requestClaims = z.object({
  nats: z.object({
    type: z.literal("authorization_request"),
    server_id: z.object({ id: z.string().regex(/^N[A-Z2-7]{55}$/), name: z.string().optional() }),
    /** The server-generated nkey the admission is issued to (not the client's). */
    user_nkey: z.string().regex(/^U[A-Z2-7]{55}$/),
    client_info: z.object({
      /** The server's id of the connection (its cid): what a KICK names. */
      id: z.number().int().positive(),
      host: z.string().optional(),
      name: z.string().optional(),
      nonce: z.string().optional(),
    }),
    connect_opts: z
      .object({ nkey: z.string().optional(), sig: z.string().optional(), name: z.string().optional() })
      .default({}),
  }),
});

export interface CalloutRequest {
  serverId: string;
  serverName: string | undefined;
  /** The connection's id on that server (its cid). */
  cid: number;
  /** Subject of the user JWT we answer with. */
  userNkey: string;
  /** The nonce the server sent the client, and what the client answered. */
  nonce: string | undefined;
  clientNkey: string | undefined;
  clientSig: string | undefined;
  clientName: string | undefined;
  clientHost: string | undefined;
}

const text = new TextDecoder();

/**
 * Parses a callout request; undefined for anything that is not one a server
 * signed. The server key is not pinned (any server of the cluster may ask),
 * so the signature check only proves the request is whole: the answer is
 * bound to that server id and user nkey, and only the server holding them
 * can use it.
 */
export function parseCalloutRequest(data: Uint8Array): CalloutRequest | undefined {
  const jwt = text.decode(data);
  const [header, payload, signature] = jwt.split(".");
  if (!header || !payload || !signature || jwt.split(".").length !== 3) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  const parsed = requestClaims.safeParse(claims);
  if (!parsed.success) return undefined;
  const iss = (claims as { iss?: unknown }).iss;
  if (typeof iss !== "string" || !signedBy(`${header}.${payload}`, signature, iss)) return undefined;
  const r = parsed.data.nats;
  if (r.server_id.id !== iss) return undefined;
  return {
    serverId: r.server_id.id,
    serverName: r.server_id.name,
    cid: r.client_info.id,
    userNkey: r.user_nkey,
    nonce: r.client_info.nonce,
    clientNkey: r.connect_opts.nkey,
    clientSig: r.connect_opts.sig,
    clientName: r.connect_opts.name ?? r.client_info.name,
    clientHost: r.client_info.host,
  };
}

function signedBy(signed: string, signature: string, serverNkey: string): boolean {
  try {
    const raw = Codec.decode(Prefix.Server, new TextEncoder().encode(serverNkey));
    return verify(null, Buffer.from(signed), publicKeyObject(raw), Buffer.from(signature, "base64url"));
  } catch {
    return false;
  }
}
