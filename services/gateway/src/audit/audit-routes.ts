import { ApiError, tenantId, unavailableError } from "@conclave/protocol";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { callerOf } from "../access/gateway-gate.ts";
import { mayReadTenant, mayReadUnattributed } from "../access/scope-policy.ts";
import { type AuditTrail, MAX_AUDIT_PAGE, UNATTRIBUTED } from "./audit-trail.ts";

const auditQuery = z
  .object({
    tenant: z.union([tenantId, z.literal(UNATTRIBUTED)]).optional(),
    after: z.coerce.number().int().nonnegative().default(0),
    limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE).default(50),
  })
  .strict();

/**
 * `GET /v1/audit?tenant=&after=&limit=`: a tenant's own records; an admin reads its tenant's, an
 * operator any tenant's and the unattributed ones. Another tenant looks like no tenant (404).
 */
export function registerAuditRoutes(scope: FastifyInstance, audit: AuditTrail): void {
  scope.get("/v1/audit", { config: { body: "none", auth: "signed-or-bearer" } }, async (request) => {
    const caller = callerOf(request);
    const q = auditQuery.parse(request.query ?? {});
    const tenant = q.tenant ?? caller.principal.tenant;
    const allowed = tenant === UNATTRIBUTED ? mayReadUnattributed(caller) : mayReadTenant(caller, tenant);
    if (!allowed) throw new ApiError("not_found", "no such tenant");
    try {
      return await audit.page(tenant, q.after, q.limit);
    } catch (err) {
      throw unavailableError("audit trail unavailable, retry later", err);
    }
  });
}
