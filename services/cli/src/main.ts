import { generateIdentity, type KeyFile, readKeyFile, writeKeyFile } from "@conclave/auth";
import { ConclaveClient, ConclaveError } from "@conclave/client";
import { type TenantPlanRequest, tenantPlanRequest } from "@conclave/protocol";
import { natsAuthenticator } from "@conclave/runtime";
import { SUBJECTS } from "@conclave/store";
import { generateCredentials, serverEnv, writeCredentials } from "@conclave/testkit";
import { Command, InvalidArgumentError } from "commander";
import { output } from "./output.ts";
import { type PagingFlags, pagingOptions, readListing } from "./paged-listing.ts";
import { writeRpcHandlers } from "./rpc-handlers.ts";
import { bootstrap, PROJECTIONS, rebuild, tail, withStore } from "./store-commands.ts";

const program = new Command("conclave")
  .description("Conclave admin CLI")
  .option("--json", "machine-readable JSON output")
  .option(
    "-k, --key-file <path>",
    "the identity to sign with",
    process.env.CONCLAVE_KEY_FILE ?? ".conclave/admin.key.json",
  )
  .option("--url <url>", "Conclave URL (default: the key file's url)")
  .showHelpAfterError();

const globals = () => program.opts<{ json?: boolean; keyFile: string; url?: string }>();
const out = () => output(Boolean(globals().json));
const client = async () => {
  const identity = await readKeyFile(globals().keyFile);
  return new ConclaveClient({ identity, ...(globals().url ? { url: globals().url } : {}) });
};
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
};
const natsOptions = (cmd: Command) =>
  cmd
    .option("--nats <urls>", "comma-separated NATS URLs", process.env.CONCLAVE_NATS_URLS ?? "nats://127.0.0.1:4222")
    .option(
      "--nats-seed-file <path>",
      "the operator's NATS user seed (SU…; default CONCLAVE_NATS_SEED_FILE, or CONCLAVE_NATS_SEED inline; the local start writes .conclave/nats/operator.nk)",
      process.env.CONCLAVE_NATS_SEED_FILE,
    )
    .option(
      "--replicas <n>",
      "replicas of buckets and streams (default: CONCLAVE_REPLICAS, else the cluster's size as the server reports it)",
      int,
      process.env.CONCLAVE_REPLICAS === undefined ? undefined : int(process.env.CONCLAVE_REPLICAS),
    );
const natsOf = (o: { nats: string; replicas?: number; natsSeedFile?: string }) => ({
  nats: o.nats.split(",").map((s) => s.trim()),
  replicas: o.replicas,
  authenticator: natsAuthenticator({
    CONCLAVE_NATS_SEED: process.env.CONCLAVE_NATS_SEED,
    CONCLAVE_NATS_SEED_FILE: o.natsSeedFile,
  }),
});
/** The items (a table, or a JSON array); where the listing goes on, on stderr, so stdout stays the list. */
const printListing = (listing: { items: unknown[]; next?: string }, columns?: string[]) => {
  out().print(listing.items, columns);
  if (listing.next) process.stderr.write(`more: --cursor ${listing.next} (or --all)\n`);
};
const userColumns = ["sign_pub", "name", "tenant", "role", "status"];

program
  .command("keys")
  .description("identities")
  .command("new")
  .description("create a key file (Ed25519 signing + X25519 key exchange, mode 0600)")
  .requiredOption("--name <name>", "display name")
  .requiredOption("--tenant <tenant>", "tenant id")
  .requiredOption("--out <path>", "where to write the key file (never overwritten)")
  .option("--url <url>", "Conclave URL stored in the file", "http://127.0.0.1:7420")
  .action(async (o: { name: string; tenant: string; out: string; url: string }) => {
    const key = generateIdentity({ name: o.name, tenant: o.tenant, url: o.url });
    await writeKeyFile(o.out, key);
    out().print({
      file: o.out,
      name: key.name,
      tenant: key.tenant,
      sign_pub: key.signPublicKey,
      kex_pub: key.kexPublicKey,
    });
  });

natsOptions(
  program
    .command("bootstrap")
    .description(
      "create the first operator (talks to NATS directly; refuses once another identity bootstrapped); " +
        "run again with the key file of a bootstrap admin of an earlier version, it upgrades it to operator",
    )
    .option("--tenant <tenant>", "tenant of a new operator key", "local")
    .option("--url-in-key <url>", "Conclave URL stored in a new key file", "http://127.0.0.1:7420"),
).action(async (o: { tenant: string; urlInKey: string; nats: string; replicas?: number }) => {
  const path = globals().keyFile;
  let admin: KeyFile;
  try {
    // Read, or create when absent: no exists-then-read race (the read itself opens once).
    admin = await readKeyFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    admin = generateIdentity({ name: "admin", tenant: o.tenant, url: o.urlInKey });
    await writeKeyFile(path, admin);
    out().note(`wrote a new admin key file: ${path}`);
  }
  const user = await withStore(natsOf(o), (store, log) => bootstrap(store, log, admin));
  out().print(user, userColumns);
});

const credentials = program.command("credentials").description("NATS credentials of a deployment (docs/runbook.md)");
credentials
  .command("init")
  .description(
    "generate every NATS secret into --dir (mode 0600, never overwritten): a user seed per service role, " +
      "the system user's and the callout issuer's seeds, and nats.env (public keys and route credentials) for the servers",
  )
  .requiredOption("--dir <dir>", "where to write them (must not hold a set yet)")
  .action(async (o: { dir: string }) => {
    const set = generateCredentials();
    await writeCredentials(o.dir, set);
    out().print(serverEnv(set));
  });
credentials
  .command("rpc-handlers")
  .description(
    "one NATS user per upstream RPC handler, allowed exactly its methods: writes rpc-<name>.nk seeds " +
      "(kept when present) and rpc-handlers.conf (public keys) into --dir, to replace deploy/nats/rpc-handlers.conf",
  )
  .requiredOption("--dir <dir>", "the deployment's credentials directory")
  .requiredOption(
    "--handler <name=methods>",
    "a handler and its comma-separated methods (repeatable): echo=echo.say,echo.upper",
    (spec: string, all: string[] = []) => [...all, spec],
  )
  .action(async (o: { dir: string; handler: string[] }) => {
    const handlers = await writeRpcHandlers(o.dir, o.handler);
    out().print(handlers.map((h) => ({ name: h.name, nkey: h.nkey, methods: h.methods.join(",") })));
  });

const users = program.command("users").description("the users allowlist (operators; admins within their tenant)");
users
  .command("add")
  .description("register a bot")
  .option("--from-key-file <path>", "take sign_pub, kex_pub, tenant and name from a key file")
  .option("--sign-pub <b64url>")
  .option("--kex-pub <b64url>")
  .option("--tenant <tenant>")
  .option("--name <name>")
  .option("--role <role>", "operator | admin | member (operator: by an operator only)", "member")
  .option("--scopes <list>", "comma-separated scopes (default: all but admin)")
  .action(
    async (o: {
      fromKeyFile?: string;
      signPub?: string;
      kexPub?: string;
      tenant?: string;
      name?: string;
      role: string;
      scopes?: string;
    }) => {
      const file = o.fromKeyFile ? await readKeyFile(o.fromKeyFile) : undefined;
      const sign_pub = o.signPub ?? file?.signPublicKey;
      const kex_pub = o.kexPub ?? file?.kexPublicKey;
      const tenant = o.tenant ?? file?.tenant;
      if (!sign_pub || !kex_pub || !tenant)
        throw new InvalidArgumentError("give --from-key-file, or --sign-pub, --kex-pub and --tenant");
      if (o.role !== "operator" && o.role !== "admin" && o.role !== "member")
        throw new InvalidArgumentError("--role must be operator, admin or member");
      const name = o.name ?? file?.name;
      const user = await (await client()).addUser({
        sign_pub,
        kex_pub,
        tenant,
        role: o.role,
        ...(name ? { name } : {}),
        ...(o.scopes ? { scopes: o.scopes.split(",").map((s) => s.trim()) } : {}),
      });
      out().print(user, userColumns);
    },
  );
pagingOptions(users.command("list").description("a page of users (--all: every page)"))
  .option("--tenant <tenant>", "one tenant's users (operators; an admin lists its own)")
  .action(async (o: PagingFlags & { tenant?: string }) => {
    const c = await client();
    const tenant = o.tenant ? { tenant: o.tenant } : {};
    printListing(await readListing((page) => c.listUsersPages({ ...tenant, ...page }), o), userColumns);
  });
users
  .command("show <sign_pub>")
  .action(async (signPub: string) => out().print(await (await client()).getUser(signPub)));
users
  .command("revoke <sign_pub>")
  .option("--reason <text>")
  .description("revoke a bot: in force on every replica when this returns")
  .action(async (signPub: string, o: { reason?: string }) =>
    out().print(await (await client()).revokeUser(signPub, o.reason), userColumns),
  );

const rooms = program.command("rooms").description("rooms of the signing identity");
pagingOptions(rooms.command("list").description("a page of your rooms (--all: every page)")).action(
  async (o: PagingFlags) => {
    const c = await client();
    printListing(await readListing((page) => c.myRoomsPages(page), o));
  },
);
rooms.command("show <id>").action(async (id: string) => {
  const c = await client();
  const room = await c.getRoom(id);
  const members = await c.members(id);
  if (globals().json) out().print({ ...room, member_list: members });
  else {
    out().print(room);
    out().print(members);
  }
});

program
  .command("tokens")
  .description("gateway session tokens")
  .command("revoke <jti>")
  .action(async (jti: string) => out().print(await (await client()).revokeToken(jti)));

const budgets = program.command("budgets").description("gateway budgets");
budgets.command("show").action(async () => out().print(await (await client()).budget()));
budgets
  .command("set <tenant>")
  .requiredOption("--body <json>", "the budget document, as JSON (see docs/gateway.md)")
  .action(async (tenant: string, o: { body: string }) => {
    let body: TenantPlanRequest;
    try {
      body = tenantPlanRequest.parse(JSON.parse(o.body));
    } catch {
      throw new InvalidArgumentError("--body must be a budget document in JSON (see docs/gateway.md)");
    }
    out().print(await (await client()).setBudget(tenant, body));
  });

natsOptions(
  program
    .command("events")
    .description("the event log")
    .command("tail")
    .option("--type <aggregate>", "only events of one aggregate type (user, room, ...)")
    .option("--from <seq>", "start at this stream sequence", int)
    .option("--limit <n>", "stop after n events", int, 100)
    .option("-f, --follow", "keep waiting for new events", false),
).action(
  async (o: { type?: string; from?: number; limit: number; follow: boolean; nats: string; replicas?: number }) => {
    await withStore(natsOf(o), (store) =>
      tail(
        store,
        {
          ...(o.from ? { from: o.from } : {}),
          ...(o.type ? { subject: SUBJECTS.aggregateType(o.type) } : {}),
          follow: o.follow,
          limit: o.limit,
        },
        (e) => {
          if (globals().json) process.stdout.write(`${JSON.stringify(e)}\n`);
          else {
            const ev = e.event as { type?: string; actor?: string; at?: string };
            process.stdout.write(`${e.seq}\t${ev.at ?? ""}\t${e.subject}\t${ev.type ?? ""}\t${ev.actor ?? ""}\n`);
          }
        },
      ),
    );
  },
);

natsOptions(
  program
    .command("projections")
    .description("read models")
    .command("rebuild [name]")
    .description(
      `replay the log into twin buckets and compare with the live read models (${[...PROJECTIONS.keys()].join(", ")}; default all)`,
    ),
).action(async (name: string | undefined, o: { nats: string; replicas?: number }) => {
  const names = name ? [name] : [...PROJECTIONS.keys()];
  const results = await withStore(natsOf(o), async (store, log) => {
    const all = [];
    for (const n of names) all.push({ projection: n, ...(await rebuild(store, log, n)) });
    return all;
  });
  out().print(
    results.map((r) => ({
      projection: r.projection,
      events: r.applied,
      differences: r.differences.length,
      ...(globals().json ? { details: r.differences } : {}),
    })),
  );
  if (results.some((r) => r.differences.length > 0)) {
    out().note("live read models differ from the log: see docs/runbook.md (restoring projections)");
    process.exitCode = 1;
  }
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message =
    err instanceof ConclaveError
      ? `${err.status} ${err.code}${err.reason ? ` (${err.reason})` : ""}: ${err.message}`
      : (err as Error).message;
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
}
