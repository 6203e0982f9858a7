import { usageUnits } from "@conclave/protocol";
import { z } from "zod";

/**
 * The wire between the gateway and upstream handlers (NATS request/reply).
 * Who is calling travels in headers set by the gateway after it authenticated
 * the caller; handlers trust them because only the gateway may publish on the
 * RPC subjects (NATS permissions in production).
 */
export const RPC_HEADERS = {
  tenant: "Conclave-Tenant",
  /** The caller's sign_pub. */
  subject: "Conclave-Subject",
  /** The caller's effective scopes, space-separated. */
  scopes: "Conclave-Scopes",
  /** The HTTP request id, for joining logs. */
  requestId: "Conclave-Request-Id",
  /** Milliseconds since the epoch after which the gateway no longer waits. */
  deadline: "Conclave-Deadline",
} as const;

/** Error codes a handler may declare safe to show the caller; anything else is a generic failure. */
export const HANDLER_ERROR_CODES = ["bad_request", "not_found", "forbidden", "conflict", "internal"] as const;
export type HandlerErrorCode = (typeof HANDLER_ERROR_CODES)[number];

export const upstreamReply = z.union([
  z.object({ result: z.unknown(), usage: usageUnits.optional() }).strict(),
  z
    .object({
      error: z.object({ code: z.enum(HANDLER_ERROR_CODES), message: z.string().max(512) }).strict(),
      usage: usageUnits.optional(),
    })
    .strict(),
]);

export type UpstreamReply = z.infer<typeof upstreamReply>;
