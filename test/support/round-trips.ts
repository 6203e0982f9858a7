import type { NatsConnection } from "@nats-io/transport-node";

// Counts the NATS round trips a service makes, by wrapping its connection's
// request(): KV and stream reads (STREAM.MSG.GET, DIRECT.GET) and writes (a
// JetStream publish is a request on the `$KV.` / stream subject) are requests.

interface Trip {
  subject: string;
  start: number;
  end: number;
}

export interface RoundTrips {
  /** Runs `work` and returns the store requests it saw (of the kinds counted), with how many were sequential. */
  during(work: () => Promise<unknown>): Promise<{ total: number; sequential: number; subjects: string[] }>;
}

/**
 * The store requests that make up a decision: reads by key, KV writes and event appends (a
 * publish on the log's subjects); not INFO, consumer or listing calls.
 */
const COUNTED = /^(\$JS\.API\.STREAM\.MSG\.GET\.|\$JS\.API\.DIRECT\.GET\.|\$KV\.|conclave\.ev\.)/;

export function countRoundTrips(nc: NatsConnection): RoundTrips {
  let trips: Trip[] | undefined;
  let tick = 0;
  const request = nc.request.bind(nc);
  // A logical clock (a counter) orders the starts and ends: no wall-clock figure is compared.
  nc.request = async (subject, payload, opts) => {
    const trip = { subject, start: tick++, end: Number.POSITIVE_INFINITY };
    if (trips && COUNTED.test(subject)) trips.push(trip);
    try {
      return await request(subject, payload, opts);
    } finally {
      trip.end = tick++;
    }
  };
  return {
    async during(work) {
      const seen: Trip[] = [];
      trips = seen;
      await work().finally(() => {
        trips = undefined;
      });
      return { total: seen.length, sequential: longestChain(seen), subjects: seen.map((t) => t.subject) };
    },
  };
}

/**
 * How many of the requests ran one after another: the longest chain in which
 * each starts after the previous one answered (the most requests pairwise
 * apart in time, taken greedily by earliest answer).
 */
export function longestChain(trips: Trip[]): number {
  let count = 0;
  let free = Number.NEGATIVE_INFINITY;
  for (const trip of [...trips].sort((a, b) => a.end - b.end)) {
    if (trip.start > free) {
      count++;
      free = trip.end;
    }
  }
  return count;
}
