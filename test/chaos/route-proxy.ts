import { createConnection, createServer, type Server, type Socket } from "node:net";
import { Transform } from "node:stream";

/**
 * One direction of a cluster route (`from` dials `to`) through a loopback TCP
 * proxy that can be cut and healed. A cut resets every open connection and
 * resets new ones at once, like a firewall rule answering with RST: nats-server
 * notices immediately (no 2-minute ping timeout) and keeps redialling its
 * explicit route, which succeeds again after the heal.
 */
export class LinkProxy {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  private readonly server: Server;
  private readonly target: { host: string; port: number };
  private readonly open = new Set<Socket>();
  private isCut = false;
  /** Bytes silently dropped per direction (a gray failure: the TCP connection stays up). */
  private drop = { forward: false, back: false };
  /** Connections forwarded and connections refused while cut (for the report). */
  readonly counts = { forwarded: 0, refused: 0 };

  private constructor(from: string, to: string, server: Server, target: { host: string; port: number }) {
    this.from = from;
    this.to = to;
    this.server = server;
    this.target = target;
    this.port = (server.address() as { port: number }).port;
    server.on("connection", (client) => this.accept(client));
  }

  static async start(
    from: string,
    to: string,
    target: { host: string; port: number },
    listenPort = 0,
  ): Promise<LinkProxy> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listenPort, target.host, () => resolve());
    });
    return new LinkProxy(from, to, server, target);
  }

  get url(): string {
    return `nats://${this.target.host}:${this.port}`;
  }

  get cut(): boolean {
    return this.isCut;
  }

  private accept(client: Socket): void {
    if (this.isCut) {
      this.counts.refused++;
      client.resetAndDestroy();
      return;
    }
    this.counts.forwarded++;
    const upstream = createConnection({ host: this.target.host, port: this.target.port, noDelay: true });
    const pair = [client, upstream];
    for (const s of pair) {
      this.open.add(s);
      s.on("error", () => {});
      s.once("close", () => {
        this.open.delete(s);
        for (const other of pair) if (other !== s && !other.destroyed) other.destroy();
      });
    }
    client.pipe(this.dropper("forward")).pipe(upstream);
    upstream.pipe(this.dropper("back")).pipe(client);
  }

  private dropper(direction: "forward" | "back"): Transform {
    return new Transform({
      transform: (chunk, _enc, done) => done(null, this.drop[direction] ? undefined : chunk),
    });
  }

  /**
   * Silently drops what flows one way on this link (`forward`: from the
   * dialling node to the dialled one) while the connections stay up: no reset,
   * no close, only the peer's ping or raft timeouts can notice.
   */
  blackhole(direction: "forward" | "back"): void {
    this.drop[direction] = true;
  }

  get blackholed(): boolean {
    return this.drop.forward || this.drop.back;
  }

  /** Resets every connection on this link and refuses new ones until heal(). */
  sever(): void {
    this.isCut = true;
    for (const s of this.open) s.resetAndDestroy();
    this.open.clear();
  }

  heal(): void {
    // After a one-way loss the byte streams are torn (half messages were dropped):
    // reset them, as the peers' ping timeouts eventually would, and let the nodes redial.
    if (this.blackholed) {
      for (const s of this.open) s.resetAndDestroy();
      this.open.clear();
    }
    this.isCut = false;
    this.drop = { forward: false, back: false };
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise((r) => this.server.close(r));
  }
}

/** Every route link of a cluster, by ordered pair, with cuts by node. */
export class RouteProxies {
  private readonly links = new Map<string, LinkProxy>();

  /** The hook for `NatsCluster.start({ routeVia })`. */
  readonly routeVia = async (link: {
    from: string;
    to: string;
    host: string;
    port: number;
    proxyPort: number;
  }): Promise<void> => {
    const proxy = await LinkProxy.start(link.from, link.to, { host: link.host, port: link.port }, link.proxyPort);
    this.links.set(`${link.from}>${link.to}`, proxy);
  };

  all(): LinkProxy[] {
    return [...this.links.values()];
  }

  /** Cuts both directions between `node` and every other node: a minority of one. */
  isolate(node: string): void {
    for (const l of this.links.values()) if (l.from === node || l.to === node) l.sever();
  }

  /** Cuts both directions between two nodes (the third still sees both). */
  cutBetween(a: string, b: string): void {
    for (const l of this.links.values()) if ((l.from === a && l.to === b) || (l.from === b && l.to === a)) l.sever();
  }

  /**
   * One-way loss: everything `node` sends to its peers vanishes, while it still
   * receives everything they send. Its own dialled links drop forward, the
   * links its peers dialled drop back.
   */
  muteOutbound(node: string): void {
    for (const l of this.links.values()) {
      if (l.from === node) l.blackhole("forward");
      if (l.to === node) l.blackhole("back");
    }
  }

  healAll(): void {
    for (const l of this.links.values()) l.heal();
  }

  /** The links currently cut or dropping one way, as "n1>n2". */
  cutLinks(): string[] {
    return this.all()
      .filter((l) => l.cut || l.blackholed)
      .map((l) => `${l.from}>${l.to}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((l) => l.close()));
  }
}
