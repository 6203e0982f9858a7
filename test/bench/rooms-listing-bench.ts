import { ConclaveClient } from "@conclave/client";
import { projected } from "@conclave/store";
import { z } from "zod";
import { ROOM_COUNTS, SECONDS } from "./bench-options.ts";
import type { BenchWorld } from "./bench-world.ts";
import { type Figure, load } from "./measure.ts";

// The first page of 100, a few requests at a time (as the users listing rows of scale-bench.ts).
const LIST_PAGE = 100;
const LIST_CONCURRENCY = 4;
const TENANT = "bench";

/**
 * Section 7, rooms: `GET /v1/me/rooms` (first page of 100) for a bot in 10^2, 10^3, 10^4 rooms
 * of its tenant, next to the raw read of one page of its member_rooms keys, the read the route
 * rests on (KvTable.pageBySequence). The rooms and the reverse index are written directly in the
 * shape the rooms projection writes them (rooms-projection.ts): 10^4 rooms through the command
 * path would take minutes of serialized appends, and the read path under test reads exactly these.
 */
export async function roomsListingBench(world: BenchWorld): Promise<Figure[]> {
  const { host, bot } = world;
  const rooms = host.ctx.store.table("rooms", projected(z.unknown()));
  const memberRooms = host.ctx.store.table("memberRooms", projected(z.unknown()));
  const client = new ConclaveClient({ url: host.url, identity: bot, attempts: 1 });
  const filter = `${bot.signPublicKey}.${TENANT}.*`;
  const figures: Figure[] = [];
  const now = new Date().toISOString();
  let size = 0;
  for (const target of ROOM_COUNTS) {
    for (; size < target; size += 256) {
      await Promise.all(
        Array.from({ length: Math.min(256, target - size) }, async (_, i) => {
          const id = `bench-room-${size + i}`;
          await rooms.put(`${TENANT}.${id}`, {
            seq: 1,
            data: {
              id,
              aggregate_id: `${TENANT}.${id}`,
              subject: `conclave.room.${TENANT}.${id}`,
              mode: "clear",
              tenant: TENANT,
              owner: bot.signPublicKey,
              epoch: 1,
              keyed_epoch: 0,
              members: { [bot.signPublicKey]: { role: "owner", kex_pub: bot.kexPublicKey } },
              created_at: now,
            },
          });
          await memberRooms.put(`${bot.signPublicKey}.${TENANT}.${id}`, { seq: 1, data: { room: id, role: "owner" } });
        }),
      );
    }
    const firstPage = async () => {
      for await (const page of client.myRoomsPages({ limit: LIST_PAGE })) {
        if (page.items.length !== LIST_PAGE) throw new Error(`a page of ${page.items.length} rooms`);
        return page;
      }
    };
    const at = target.toLocaleString("en");
    const listed = await load(firstPage, { seconds: SECONDS, concurrency: LIST_CONCURRENCY });
    const raw = await load(() => memberRooms.pageBySequence(filter, 0, LIST_PAGE), {
      seconds: SECONDS,
      concurrency: LIST_CONCURRENCY,
    });
    figures.push(
      { section: "7 rooms", name: `GET /v1/me/rooms page of ${LIST_PAGE}, rooms ≈ ${at}`, ...listed },
      {
        section: "7 rooms",
        name: `raw read of a page of member_rooms keys, rooms ≈ ${at}`,
        ...raw,
        ratio: listed.p50Ms / raw.p50Ms,
        note: "listing / raw page read, p50",
      },
    );
  }
  return figures;
}
