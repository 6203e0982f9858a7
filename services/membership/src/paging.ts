import { ApiError } from "@conclave/protocol";
import { z } from "zod";

// Every listing pages the same way (docs/auth.md, "Listings"): `?limit=` (default 100, at most
// 1000) and `?cursor=`, the opaque `next` of the page before; the answer keeps its name
// (`{"users": [...]}`) and gains `next`, absent on the last page.

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/**
 * Where a page ends: the last key it answered and, for listings in stream order, that key's
 * sequence; for the users index, the chunk's key and the position in it.
 */
export interface Position {
  key: string;
  seq?: number;
  offset?: number;
}

const position = z
  .object({
    key: z.string().min(1).max(1024),
    seq: z.number().int().positive().optional(),
    offset: z.number().int().nonnegative().optional(),
  })
  .strict();

const cursorText = z
  .string()
  .max(2048)
  .regex(/^[A-Za-z0-9_-]+$/, "cursor must be a cursor from a page's next")
  .transform((text, ctx) => {
    try {
      return position.parse(JSON.parse(Buffer.from(text, "base64url").toString("utf8")));
    } catch {
      ctx.addIssue({ code: "custom", message: "cursor must be a cursor from a page's next" });
      return z.NEVER;
    }
  });

/** `limit` and `cursor`, validated at the edge (400 naming the field). */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
  cursor: cursorText.optional(),
});

export type PageQuery = z.infer<typeof pageQuery>;

export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify(p)).toString("base64url");
}

/**
 * A cursor names a key of one listing: one under another prefix (another tenant's, room's or
 * member's) is refused, never followed, so it cannot become a way to read outside the caller's scope.
 */
export function positionIn(cursor: Position | undefined, prefix: string): Position | undefined {
  if (cursor && !cursor.key.startsWith(prefix)) {
    throw new ApiError("bad_request", "cursor: not a cursor of this listing");
  }
  return cursor;
}

/** A listing's answer: its named array (`users`, `members`, `rooms`) and, when more follow, `next`. */
export type Page<Name extends string, T> = { [K in Name]: T[] } & { next?: string };

/** The answer's `next`: present only when more follow. */
export const nextOf = (more: boolean, last: Position | undefined) => (more && last ? { next: encodeCursor(last) } : {});
