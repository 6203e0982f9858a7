// Admission figures of the auth callout (docs/dataplane.md): N bots connecting at once against
// a real nats-server with the data-plane accounts and two callout replicas as OS processes.
// Run: npx tsx test/access/measure-admissions.ts [bots=1000]
import { connectAsBot } from "@conclave/client";
import { membershipModule } from "@conclave/membership";
import { loadServiceEnv, startHost } from "@conclave/runtime";
import { NatsCluster } from "@conclave/testkit";
import { identity, register } from "../support/membership-fixture.ts";
import { spawnService } from "../support/service-process.ts";

const count = Number(process.argv[2] ?? 1_000);
const nats = await NatsCluster.start();
const base = {
  CONCLAVE_NATS_URLS: nats.urls.join(","),
  CONCLAVE_REPLICAS: "1",
  CONCLAVE_LOG_LEVEL: "warn",
  CONCLAVE_PORT: "0",
};
const membership = await startHost({
  env: loadServiceEnv({ ...base, CONCLAVE_NATS_SEED: nats.credentials.seeds.membership }),
  modules: [membershipModule],
});
const accessEnv = {
  ...base,
  CONCLAVE_LOG_LEVEL: "info",
  CONCLAVE_NATS_SEED: nats.credentials.seeds.access,
  CONCLAVE_ACCESS_ISSUER_SEED: nats.credentials.issuer,
  CONCLAVE_NATS_SYSTEM_SEED: nats.credentials.system,
};
const replicas = await Promise.all([1, 2].map(() => spawnService("services/access/src/main.ts", accessEnv)));
try {
  const admin = identity("admin");
  const bots = Array.from({ length: count }, (_, i) => identity(`bot${i}`));
  await register(membership, admin, [], true);
  const chunk = Math.ceil(count / 20);
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => register(membership, admin, bots.slice(i * chunk, (i + 1) * chunk))),
  );

  const latencies: number[] = [];
  const started = performance.now();
  const results = await Promise.all(
    bots.map(async (bot) => {
      const t = performance.now();
      try {
        const nc = await connectAsBot(bot, { servers: nats.urls, timeout: 20_000, maxReconnectAttempts: 0 });
        latencies.push(performance.now() - t);
        return nc;
      } catch (err) {
        return err as Error;
      }
    }),
  );
  const wall = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]?.toFixed(1);
  const refused = results.filter((r) => r instanceof Error);
  console.log(
    `${count} bots at once: ${count - refused.length} admitted in ${wall.toFixed(0)} ms ` +
      `(${((count - refused.length) / (wall / 1000)).toFixed(0)} admissions/s), connect p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`,
  );
  const reasons = new Map<string, number>();
  for (const r of refused) reasons.set(r.message, (reasons.get(r.message) ?? 0) + 1);
  if (refused.length) console.log("refused:", Object.fromEntries(reasons));
  await Promise.all(results.map((r) => (r instanceof Error ? undefined : r.close())));
  for (const [i, r] of replicas.entries()) {
    const metrics = await (await fetch(`${r.url}/metrics`)).text();
    console.log(
      `replica ${i + 1}:`,
      metrics
        .split("\n")
        .filter(
          (l) =>
            l.startsWith("conclave_access_decisions_total") ||
            l.startsWith("conclave_access_decision_seconds_sum") ||
            l.startsWith("conclave_access_decision_seconds_count") ||
            l.startsWith("conclave_store_op_duration_seconds_sum"),
        )
        .join(" "),
    );
  }
} finally {
  await Promise.all(replicas.map((r) => r.stop()));
  await membership.close();
  await nats.stop();
}
