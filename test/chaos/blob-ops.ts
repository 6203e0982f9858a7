import { createHash, randomBytes } from "node:crypto";
import { signWire } from "./signed-call.ts";
import { isOk, type OpGroup, type WorkloadContext } from "./workload.ts";

/**
 * Blob operations through the blob replicas: uploads of fresh random bytes
 * (1–64 KiB, content-addressed), re-uploads of stored ones (dedup),
 * downloads whose bytes are hashed on arrival, and HEADs.
 */
export class BlobOps implements OpGroup {
  private readonly c: WorkloadContext;
  /** Blobs whose upload was acknowledged. */
  readonly stored: { sha256: string; size: number }[] = [];

  constructor(ctx: WorkloadContext) {
    this.c = ctx;
  }

  weights(): Record<string, number> {
    const any = this.stored.length > 0;
    return { blobPut: 4, blobGet: any ? 4 : 0, blobHead: any ? 1 : 0 };
  }

  async run(op: string): Promise<void> {
    const bot = this.c.rng.pick(this.c.active());
    const target = this.c.target("blob");
    if (!bot || !target) return;
    const known = this.c.rng.pick(this.stored);
    if (op === "blobPut") {
      const bytes = randomBytes(this.c.rng.int(1_024, 64 * 1_024));
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const wire = signWire(bot.key, "PUT", `/v1/blobs/${sha256}`, undefined, {
        bytes,
        contentType: "application/octet-stream",
      });
      const res = await this.c.exec("blob.put", bot, wire, { sha256, size: bytes.length }, target);
      if (isOk(res.answer.status)) this.stored.push({ sha256, size: bytes.length });
      if (isOk(res.answer.status) && this.c.rng.chance(0.3)) {
        // The same upload again, straight away and to another replica: deduplicated.
        const other = this.c.otherTarget("blob", target.name) ?? target;
        const dup = signWire(bot.key, "PUT", `/v1/blobs/${sha256}`, undefined, {
          bytes,
          contentType: "application/octet-stream",
        });
        await this.c.exec("blob.put", bot, dup, { sha256, size: bytes.length, again: true }, other);
      }
      return;
    }
    if (!known) return;
    const method = op === "blobGet" ? "GET" : "HEAD";
    const wire = signWire(bot.key, method, `/v1/blobs/${known.sha256}`);
    await this.c.exec(op === "blobGet" ? "blob.get" : "blob.head", bot, wire, { ...known }, target);
  }
}
