import type { KeyFile } from "@conclave/auth";
import { RPC_PROTOCOL } from "@conclave/protocol";
import { type PreparedBlob, prepareBytes, prepareFile, verifyingStream } from "./blob-transfer.ts";
import { ConclaveError } from "./errors.ts";
import { SignedHttp } from "./signed-http.ts";
import type {
  AuditPage,
  BlobRef,
  BudgetView,
  CreateRoomRequest,
  InviteRequest,
  MyRoom,
  RekeyRequest,
  RevocationResult,
  RoomMember,
  RoomView,
  RpcSuccessBody,
  SealedRoomKey,
  SessionRequest,
  SessionResponse,
  TenantPlanRequest,
  UserRecord,
} from "./types.ts";

const enc = encodeURIComponent;

/** Paging of a listing (docs/auth.md, "Listings"): page size (server default 100, at most 1000). */
export interface PageOptions {
  limit?: number;
  /** Where to start: a page's `next`; the first page without. */
  cursor?: string;
}

/** A page of a listing: its items and, unless it is the last page, the cursor of the next. */
export interface ListPage<T> {
  items: T[];
  next?: string;
}

/** Typed calls for every route of the three services (docs/auth.md, rooms.md, blobs.md, gateway.md), signed with the bot's identity. */
export class ConclaveClient {
  readonly http: SignedHttp;

  constructor(opts: { url?: string; identity: KeyFile; attempts?: number }) {
    this.http = new SignedHttp({
      url: opts.url ?? opts.identity.url,
      identity: opts.identity,
      ...(opts.attempts ? { attempts: opts.attempts } : {}),
    });
  }

  get identity(): KeyFile {
    return this.http.identity;
  }

  // users (membership)
  addUser(user: {
    sign_pub: string;
    kex_pub: string;
    tenant: string;
    role: "operator" | "admin" | "member";
    scopes?: string[];
    name?: string;
  }) {
    return this.http.json<UserRecord>("POST", "/v1/users", { json: user });
  }
  /** Every user the caller may list (all pages; `tenant`: one tenant, for operators). */
  listUsers(query: { tenant?: string } = {}): Promise<UserRecord[]> {
    return collect(this.iterateUsers(query));
  }
  listUsersPages(query: { tenant?: string } & PageOptions = {}): AsyncGenerator<ListPage<UserRecord>> {
    return this.pages("/v1/users", "users", query);
  }
  iterateUsers(query: { tenant?: string } & PageOptions = {}): AsyncGenerator<UserRecord> {
    return items(this.listUsersPages(query));
  }
  getUser(signPub: string) {
    return this.http.json<UserRecord>("GET", `/v1/users/${enc(signPub)}`);
  }
  revokeUser(signPub: string, reason?: string) {
    return this.http.json<UserRecord>("POST", `/v1/users/${enc(signPub)}/revoke`, { json: reason ? { reason } : {} });
  }

  // rooms (membership)
  createRoom(room: CreateRoomRequest) {
    return this.http.json<RoomView>("POST", "/v1/rooms", { json: room });
  }
  getRoom(id: string) {
    return this.http.json<RoomView>("GET", `/v1/rooms/${enc(id)}`);
  }
  /** Every member of a room (all pages: a rekey seals for each). */
  members(id: string): Promise<RoomMember[]> {
    return collect(this.iterateMembers(id));
  }
  membersPages(id: string, opts: PageOptions = {}): AsyncGenerator<ListPage<RoomMember>> {
    return this.pages(`/v1/rooms/${enc(id)}/members`, "members", opts);
  }
  iterateMembers(id: string, opts: PageOptions = {}): AsyncGenerator<RoomMember> {
    return items(this.membersPages(id, opts));
  }
  invite(id: string, invite: InviteRequest) {
    return this.http.json<RoomView>("POST", `/v1/rooms/${enc(id)}/members`, { json: invite });
  }
  removeMember(id: string, member: string) {
    return this.http.json<RoomView>("DELETE", `/v1/rooms/${enc(id)}/members/${enc(member)}`);
  }
  rekey(id: string, epoch: number, sealedKeys: Record<string, string>) {
    return this.http.json<RoomView>("POST", `/v1/rooms/${enc(id)}/keys`, {
      json: { epoch, sealed_keys: sealedKeys } satisfies RekeyRequest,
    });
  }
  myKey(id: string) {
    return this.http.json<SealedRoomKey>("GET", `/v1/rooms/${enc(id)}/key`);
  }
  /** Every room of the caller (all pages). */
  myRooms(): Promise<MyRoom[]> {
    return collect(this.iterateMyRooms());
  }
  myRoomsPages(opts: PageOptions = {}): AsyncGenerator<ListPage<MyRoom>> {
    return this.pages("/v1/me/rooms", "rooms", opts);
  }
  iterateMyRooms(opts: PageOptions = {}): AsyncGenerator<MyRoom> {
    return items(this.myRoomsPages(opts));
  }

  /** Pages of a listing from `cursor` on, following each page's `next` until the last. */
  private async *pages<T>(
    path: string,
    name: string,
    query: PageOptions & { tenant?: string },
  ): AsyncGenerator<ListPage<T>> {
    let cursor = query.cursor;
    do {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries({ ...query, cursor })) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      const page = await this.http.json<Record<string, unknown> & { next?: string }>(
        "GET",
        `${path}${qs ? `?${qs}` : ""}`,
      );
      cursor = page.next;
      yield { items: page[name] as T[], ...(cursor ? { next: cursor } : {}) };
    } while (cursor);
  }

  // blobs
  /** Uploads bytes or a file (streamed, hashed client-side first). Idempotent: safe to retry. */
  async putBlob(data: Uint8Array | { path: string }): Promise<BlobRef & { created: boolean }> {
    const blob: PreparedBlob = data instanceof Uint8Array ? prepareBytes(data) : await prepareFile(data.path);
    const res = await this.http.send("PUT", `/v1/blobs/${blob.sha256}`, {
      body: blob.body(),
      contentDigest: blob.contentDigest,
      headers: { "content-type": "application/octet-stream", "content-length": String(blob.size) },
      idempotent: true,
    });
    return { ...((await res.json()) as BlobRef), created: res.status === 201 };
  }
  /** The blob as a verified stream: it errors at the end if the bytes do not hash to the address. */
  async getBlob(sha256: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.http.send("GET", `/v1/blobs/${enc(sha256)}`);
    if (!res.body) throw new ConclaveError(502, "bad_gateway", "empty blob response");
    return res.body.pipeThrough(verifyingStream(sha256));
  }
  async getBlobBytes(sha256: string): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of await this.getBlob(sha256)) chunks.push(chunk);
    return new Uint8Array(Buffer.concat(chunks));
  }
  async headBlob(sha256: string): Promise<BlobRef | undefined> {
    try {
      const res = await this.http.send("HEAD", `/v1/blobs/${enc(sha256)}`);
      return { sha256, size: Number(res.headers.get("content-length")) };
    } catch (err) {
      if (err instanceof ConclaveError && err.status === 404) return undefined;
      throw err;
    }
  }

  // gateway
  createSession(opts: SessionRequest = {}) {
    return this.http.json<SessionResponse>("POST", "/v1/sessions", { json: opts });
  }
  revokeToken(jti: string) {
    return this.http.json<RevocationResult>("POST", `/v1/tokens/${enc(jti)}/revoke`, { json: {} });
  }
  jwks() {
    return this.http.json<{ keys: unknown[] }>("GET", "/.well-known/jwks.json");
  }
  /** RPC through the gateway; pass a session token to use bearer auth instead of signing. Errors throw ConclaveError. */
  rpc<T = unknown>(method: string, params: unknown, opts: { id?: string; token?: string } = {}) {
    return this.http.json<RpcSuccessBody & { result: T }>("POST", "/v1/rpc", {
      json: { protocol: RPC_PROTOCOL, id: opts.id ?? crypto.randomUUID(), method, params },
      ...(opts.token ? { bearer: opts.token } : {}),
    });
  }
  budget() {
    return this.http.json<BudgetView>("GET", "/v1/budget");
  }
  setBudget(tenant: string, budget: TenantPlanRequest) {
    return this.http.json<BudgetView>("PUT", `/v1/tenants/${enc(tenant)}/budget`, { json: budget, idempotent: true });
  }
  audit(query: Record<string, string> = {}) {
    const qs = new URLSearchParams(query).toString();
    return this.http.json<AuditPage>("GET", `/v1/audit${qs ? `?${qs}` : ""}`);
  }
}

async function* items<T>(pages: AsyncIterable<ListPage<T>>): AsyncGenerator<T> {
  for await (const page of pages) yield* page.items;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
