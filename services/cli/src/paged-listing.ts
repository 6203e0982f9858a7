import type { ListPage } from "@conclave/client";
import { type Command, InvalidArgumentError } from "commander";

/** `--limit`, `--cursor` and `--all` of a listing command (docs/auth.md, "Listings"). */
export interface PagingFlags {
  limit?: number;
  cursor?: string;
  all?: boolean;
}

const pageSize = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError("expected 1 to 1000");
  return n;
};

export const pagingOptions = (cmd: Command) =>
  cmd
    .option("--limit <n>", "page size (server default 100, at most 1000)", pageSize)
    .option("--cursor <cursor>", "start at this page (a `next` printed by the page before)")
    .option("--all", "follow every page to the end");

/**
 * One page (the first, or the one at `--cursor`), or with `--all` every page from there on.
 * `next` is where the listing goes on, when it does.
 */
export async function readListing<T>(
  pages: (opts: { limit?: number; cursor?: string }) => AsyncGenerator<ListPage<T>>,
  flags: PagingFlags,
): Promise<{ items: T[]; next?: string }> {
  const items: T[] = [];
  const opts = { ...(flags.limit ? { limit: flags.limit } : {}), ...(flags.cursor ? { cursor: flags.cursor } : {}) };
  for await (const page of pages(opts)) {
    items.push(...page.items);
    if (!flags.all) return { items, ...(page.next ? { next: page.next } : {}) };
  }
  return { items };
}
