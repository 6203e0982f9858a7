import type { ConsumerMessages } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** Where JetStream announces a consumer's new leader: an advisory in the consumer's own account. */
export const leaderElectedSubject = (stream: string, consumer: string) =>
  `$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.${stream}.${consumer}`;

/**
 * Ends `messages` as soon as the durable consumer gets a new leader, so its feed can attach and
 * pull again at once (`moved` then tells the caller not to back off). A pull request stays with
 * the server it was sent to; once that server has lost the leadership it delivers nothing more
 * on it, and nats.js pulls again only after two missed heartbeats or the pull's expiry. Measured
 * (3 nodes, nats-server 2.15.1, the consumer's leader lame-ducked, a message every 50 ms):
 * messages waited up to 3.0 s with 1 s heartbeats and 1.5 s with 250 ms ones (the old leader goes
 * on heartbeating until it stops JetStream, 1 s after the signal); the advisory came 25 ms after
 * the signal.
 */
export function followLeader(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  messages: ConsumerMessages,
): { readonly moved: boolean; stop(): void } {
  let moved = false;
  const sub = nc.subscribe(leaderElectedSubject(stream, consumer), {
    callback: (err) => {
      if (err) return;
      moved = true;
      messages.stop();
    },
  });
  return {
    get moved() {
      return moved;
    },
    stop: () => sub.unsubscribe(),
  };
}
