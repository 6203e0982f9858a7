import type { Socket } from "node:net";
import type { NatsConnection } from "@nats-io/nats-core";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";

/**
 * nats.js writes its pending frames to the socket once per microtask turn, and
 * under load every request handler runs in a turn of its own: a system call per
 * request frame. On these machines a write costs ~100 µs of CPU, and socket
 * writes were 20-24 % of a replica's CPU under signed GETs (`writeBuffer` and
 * `writev` in the profile, docs/benchmarks.md). Here the socket is corked at the
 * first write of an event-loop turn and uncorked at `setImmediate`, so every
 * frame of that turn leaves in one writev; a frame waits at most the rest of the
 * turn. `socket.end()` flushes a corked socket, so a close loses nothing.
 *
 * nats.js has no option for it, so this wraps the Node transport's `_send`
 * (its prototype, found on the first connection: the transport is replaced on
 * every reconnect). A nats.js that changes that shape makes it throw a
 * TypeError at connect, never silently write per frame again.
 */
export function coalesceWrites(nc: NatsConnection): void {
  const transport = nc instanceof NatsConnectionImpl ? (nc.protocol.transport as unknown) : undefined;
  const proto = transport ? (Object.getPrototypeOf(transport) as TransportShape) : undefined;
  if (!proto || typeof proto._send !== "function" || !isSocket((transport as TransportShape).socket)) {
    throw new TypeError("nats.js changed: no Node transport `_send` over a socket to coalesce writes on");
  }
  if (WRAPPED.has(proto)) return;
  const send = proto._send;
  proto._send = function (this: TransportShape, frame: Uint8Array) {
    const socket = this.socket;
    if (socket && socket.writableCorked === 0 && !socket.destroyed) {
      socket.cork();
      setImmediate(() => socket.uncork());
    }
    return send.call(this, frame);
  };
  WRAPPED.add(proto);
}

interface TransportShape {
  socket?: Socket;
  _send(frame: Uint8Array): unknown;
}

const WRAPPED = new WeakSet<object>();

const isSocket = (s: unknown): s is Socket =>
  typeof s === "object" && s !== null && typeof (s as Socket).cork === "function";
