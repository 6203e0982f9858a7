import type { KeyFile } from "@conclave/auth";
import { connectAsBot } from "@conclave/client";
import { PermissionViolationError } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/transport-node";

/** A bot's connection and every permission violation the server reported on it. */
export interface BotConnection {
  nc: NatsConnection;
  violations: PermissionViolationError[];
}

export async function connectBot(identity: KeyFile, servers: string[]): Promise<BotConnection> {
  return watchViolations(await connectAsBot(identity, { servers, timeout: 10_000 }));
}

/** Records every permission violation the server reports on `nc` (any user: bots, service users). */
export function watchViolations(nc: NatsConnection): BotConnection {
  const violations: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error" && s.error instanceof PermissionViolationError) violations.push(s.error);
    }
  })();
  return { nc, violations };
}

/** How a connect ended: "admitted", or the client's error message. */
export async function connectOutcome(identity: KeyFile, servers: string[]): Promise<string> {
  try {
    const nc = await connectAsBot(identity, { servers, timeout: 10_000, maxReconnectAttempts: 0 });
    await nc.close();
    return "admitted";
  } catch (err) {
    return (err as Error).message;
  }
}

// The server answers a SUB or PUB before the PONG of a later flush; two flushes leave the
// error's delivery to the client time to run its handlers before we look.
async function settled(nc: NatsConnection): Promise<void> {
  await nc.flush();
  await nc.flush();
}

/** True when the server refused a subscription on `subject` (a permissions violation). */
export async function subscribeRefused(bot: BotConnection, subject: string): Promise<boolean> {
  const sub = bot.nc.subscribe(subject);
  await settled(bot.nc);
  const refused = bot.violations.some((v) => v.operation === "subscription" && v.subject === subject);
  if (!refused) sub.unsubscribe();
  return refused;
}

/** True when the server refused a publish on `subject`. */
export async function publishRefused(bot: BotConnection, subject: string): Promise<boolean> {
  bot.nc.publish(subject, "probe");
  await settled(bot.nc);
  return bot.violations.some((v) => v.operation === "publish" && v.subject === subject);
}
