import { randomBytes } from "node:crypto";
import { CHUNK, chunkKey, userIndexEntry } from "@conclave/membership";
import { usersTable } from "@conclave/runtime";
import { projected, type Store } from "@conclave/store";

/**
 * A tenant's users written directly in the shape the users projection writes them: the users
 * table's entries and the tenant's index chunks and head (services/membership/src/users/user-index.ts).
 * 10^5 users through the command path would take the serialized projection ~20 min; the listing
 * reads exactly these entries. For benchmarks and listing tests only.
 */
export class SeededUsers {
  readonly signPubs: string[] = [];
  private readonly users;
  private readonly index;

  constructor(
    store: Store,
    readonly tenant: string,
  ) {
    this.users = usersTable(store);
    this.index = store.table("userIndex", projected(userIndexEntry));
  }

  /** Adds users until the tenant has `count` of them (seeded ones), then rewrites its index. */
  async growTo(count: number): Promise<void> {
    const now = new Date().toISOString();
    while (this.signPubs.length < count) {
      const batch = Array.from({ length: Math.min(256, count - this.signPubs.length) }, () =>
        randomBytes(32).toString("base64url"),
      );
      this.signPubs.push(...batch);
      await Promise.all(
        batch.map((key) =>
          this.users.put(key, {
            seq: 1,
            data: {
              sign_pub: key,
              kex_pub: key,
              tenant: this.tenant,
              role: "member",
              scopes: [],
              status: "active",
              created_at: now,
            },
          }),
        ),
      );
    }
    await this.writeIndex();
  }

  private async writeIndex(): Promise<void> {
    const chunks = Math.ceil(this.signPubs.length / CHUNK);
    for (let n = 0; n < chunks; n += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, chunks - n) }, (_, i) =>
          this.index.put(chunkKey(this.tenant, n + i), {
            seq: 1,
            data: { users: this.signPubs.slice((n + i) * CHUNK, (n + i + 1) * CHUNK) },
          }),
        ),
      );
    }
    const last = chunks - 1;
    await this.index.put(`${this.tenant}.head`, {
      seq: 1,
      data: { chunk: last, count: this.signPubs.length - last * CHUNK },
    });
  }
}
