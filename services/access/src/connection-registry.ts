import type { KvTable, Store } from "@conclave/store";
import { z } from "zod";

/** How long an entry outlives the admission it records: the server closes the connection at its expiry. */
const EXPIRY_MARGIN_MS = 60_000;

const entrySchema = z.object({
  /** When the callout admitted it (ms since the epoch, the callout's clock). */
  at: z.number().int().nonnegative(),
});

/** One admitted connection, as the server that asked for it names it. */
export interface AdmittedConnection {
  signPub: string;
  serverId: string;
  cid: number;
}

/**
 * Every connection the callout admitted, for as long as its admission lasts
 * (docs/dataplane.md, "Planned restarts"). A server in lame-duck mode sends
 * nothing from its system account any more (no CONNZ answer, no event; it
 * still acts on a KICK): this is where the kicker finds what it holds. The
 * admission writes its entry before it answers, so every connection a server
 * accepted is here; an entry whose connection never came or is gone already
 * costs one KICK that finds nothing. The write is the admission's quorum
 * witness too (docs/store.md): it is issued after the reads, and an admission
 * whose entry does not commit is refused.
 */
export class ConnectionRegistry {
  private readonly table: KvTable<z.infer<typeof entrySchema>>;
  private readonly ttlMs: number;

  constructor(store: Store, admissionTtlS: number) {
    this.table = store.table("botConnections", entrySchema);
    this.ttlMs = admissionTtlS * 1_000 + EXPIRY_MARGIN_MS;
  }

  async register(c: AdmittedConnection, at: number): Promise<void> {
    await this.table.put(entryKey(c), { at }, { ttlMs: this.ttlMs });
  }

  /** The bot's connections admitted on that server, and when: from the leader's subject index, then one read each. */
  async on(signPub: string, serverId: string): Promise<{ cid: number; at: number }[]> {
    const keys = await this.table.keysWithHistory(`${signPub}.${serverId}.*`);
    const entries = await Promise.all(keys.map(async (key) => ({ key, entry: await this.table.get(key) })));
    return entries.flatMap(({ key, entry }) => (entry ? [{ cid: Number(key.split(".")[2]), at: entry.value.at }] : []));
  }
}

// sign_pub is base64url and a server id base32, so neither holds a dot; the cid is a number.
function entryKey({ signPub, serverId, cid }: AdmittedConnection): string {
  return `${signPub}.${serverId}.${cid}`;
}
