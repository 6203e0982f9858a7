import { randomUUID } from "node:crypto";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { retryIdempotent } from "./deadline.ts";

/**
 * A JetStream client for libraries that publish and read on their own (the
 * Object Store): every publish carries a msg id (the library's own, or a fresh
 * one kept across attempts) and is retried inside its timeout, and message
 * gets are retried likewise. A raft leadership move drops the proposals and
 * requests in flight to the old leader; without this, one of the many chunk
 * publishes of an upload timing out there failed the whole upload (seen
 * during lame-duck restarts, test/blob/blob-lame-duck.test.ts). Duplicates
 * cannot happen: a retried publish is deduplicated by its msg id.
 */
export function retryingJetStream(js: JetStreamClient, timeoutMs: number): JetStreamClient {
  const publish: JetStreamClient["publish"] = (subject, payload, opts) => {
    const withId = { ...opts, msgID: opts?.msgID ?? randomUUID() };
    return retryIdempotent(`publish ${subject}`, opts?.timeout ?? timeoutMs, () =>
      js.publish(subject, payload, withId),
    );
  };
  const jetstreamManager = async (checkAPI?: boolean) =>
    retryingManager(await js.jetstreamManager(checkAPI), timeoutMs);
  return override(js, { publish, jetstreamManager });
}

function retryingManager(jsm: JetStreamManager, timeoutMs: number): JetStreamManager {
  const getMessage: JetStreamManager["streams"]["getMessage"] = (stream, query) =>
    retryIdempotent(`get ${stream}`, timeoutMs, () => jsm.streams.getMessage(stream, query));
  return override(jsm, { streams: override(jsm.streams, { getMessage }) });
}

/** The target with some members replaced; every other member is the target's own (bound to it). */
function override<T extends object>(target: T, members: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (prop in members) return members[prop as keyof T];
      const value = Reflect.get(t, prop, t);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}
