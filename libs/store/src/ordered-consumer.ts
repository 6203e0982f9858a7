import type {
  Consumer,
  ConsumerMessages,
  ConsumerNotification,
  JetStreamClient,
  OrderedConsumerOptions,
} from "@nats-io/jetstream";
import { UnavailableError } from "./errors.ts";

/**
 * The client's ordered consumer, ready to be pulled from. The answer to its
 * CONSUMER.CREATE does not mean the consumer serves pulls yet: on fresh 3-node
 * R3 clusters, a pull sent right after that answer went unserved for 12 of
 * 1,000 consumers (5 delivered nothing within 3 s, 7 only after the ordered
 * consumer's heartbeat reset, ~2 s), which cut blob reads at their first-chunk
 * attempt (~0.5-0.7 s) and can stall event scans. One CONSUMER.INFO answered in
 * between: 0 of 1,000, first message within 4 ms, and 1 of 4,000 in a longer
 * probe — about 40 times rarer, not impossible, so callers keep their own
 * bound on the first message (docs/store.md, "Consumers: the first pull").
 * Its answer is also the freshest `num_pending`.
 *
 * Measured: every unserved first pull in the probes was answered "no
 * responders" within a millisecond, and only for consumers on another server
 * than the client's. Our reading, not proven: the create's answer can reach
 * the client before its server routes the consumer's pull subject, and the
 * info's round trip gives that routing time. For the rest, `watchFirstPull`.
 * `KvTable.keys()` gets the same wait from `js.consumers.get(stream, name)`,
 * which reads the info of the consumer it creates explicitly, and watches its
 * first pull too.
 *
 * On failure the consumer is deleted (best effort; it also goes inactive by itself).
 */
export async function orderedConsumer(
  js: JetStreamClient,
  stream: string,
  opts: Partial<OrderedConsumerOptions>,
): Promise<Consumer> {
  const consumer = await js.consumers.get(stream, opts);
  try {
    await consumer.info(false);
  } catch (err) {
    void consumer.delete().catch(() => {});
    throw err;
  }
  return consumer;
}

/** A watch on a consumer's first pull (`watchFirstPull`). */
export interface FirstPullWatch {
  /** Rejects with UnavailableError if a pull is answered "no responders"; never resolves. */
  refused: Promise<never>;
  /** Ends the watch: call it once the first message came (or the attempt is given up). */
  stop(): void;
}

/**
 * Watches the statuses of `messages` for a pull answered "no responders" (see orderedConsumer),
 * after which nats.js would wait two missed heartbeats for a reset, or longer: race `refused`
 * against the first message, and on a refusal drop that consumer and open another. Call it right
 * after `consume()` resolves, before an I/O turn passes (a status is told only to listeners
 * already there), and `stop()` it after the first message: the status iterator is otherwise only
 * ended from the message queue, which nobody reads after a read is closed.
 */
export function watchFirstPull(messages: ConsumerMessages): FirstPullWatch {
  const statuses = messages.status() as AsyncIterable<ConsumerNotification> & { stop?: () => void };
  const stop = statuses.stop;
  if (typeof stop !== "function") throw new TypeError("nats.js changed: a consumer's status iterator has no stop()");
  const refused = new Promise<never>((_, reject) => {
    void (async () => {
      for await (const status of statuses) {
        if (status.type === "no_responders") {
          reject(new UnavailableError("a pull found no consumer on the client's server yet (no responders)"));
          return;
        }
      }
    })().catch(() => {});
  });
  refused.catch(() => {}); // a refusal nobody races any more (after stop) is nobody's error
  return { refused, stop: () => stop.call(statuses) };
}
