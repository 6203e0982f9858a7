import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

// A caller's request id is honoured so one id follows a call across proxies and
// services; anything else is replaced, because the id lands in every log line and
// response header (log injection, header splitting, unbounded label values).
const SANE_REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const REQUEST_ID_HEADER = "x-request-id";

export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return typeof incoming === "string" && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
