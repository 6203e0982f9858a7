import { publicKey32 } from "@conclave/protocol";
import { z } from "zod";

// The users of a tenant, as keys of their own (`<tenant>.<sign_pub>` in conclave_user_index), so a
// tenant's listing reads that tenant's keys only, a page at a time (docs/store.md, "Listings").
// Written once, when a user first appears: a key never moves in stream order, so pages stay stable.

export const userIndexEntry = z.object({ sign_pub: publicKey32 }).strict();

export const userIndexKey = (tenant: string, signPub: string) => `${tenant}.${signPub}`;
/** The index filter of one tenant's users, or of every tenant's. */
export const userIndexFilter = (tenant?: string) => (tenant === undefined ? ">" : `${tenant}.>`);
