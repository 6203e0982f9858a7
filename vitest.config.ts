import { defineConfig } from "vitest/config";

// Three layers, one invocation for CI (`npm test` runs every project):
// unit — tests next to the code; they start no nats-server and run in seconds;
// integration — test/** against real nats-server processes;
// chaos — fault injection across a cluster (test/chaos).
const natsServer = ["./test/global-setup.ts"];

export default defineConfig({
  test: {
    // Integration tests start real nats-server processes and wait out raft elections.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default", "./test/summary-reporter.ts"],
    coverage: {
      provider: "v8",
      include: ["libs/*/src/**/*.ts", "services/*/src/**/*.ts"],
      exclude: ["**/*.test.ts"],
      // test/summary-reporter.ts prints the totals above its last line; no other report is written.
      reporter: [],
    },
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          // The Docker suite has its own command and config (npm run test:containers).
          // test/bench holds one test, the bench smoke; the bench itself is a script (npm run bench).
          exclude: ["test/chaos/**", "test/containers/**"],
          globalSetup: natsServer,
        },
      },
      {
        extends: true,
        test: { name: "chaos", include: ["test/chaos/**/*.test.ts"], globalSetup: natsServer },
      },
    ],
  },
});
