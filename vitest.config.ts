import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"],
    // The Docker suite has its own command and config (npm run test:containers).
    exclude: ["**/node_modules/**", "test/containers/**"],
    globalSetup: ["./test/global-setup.ts"],
    // Integration tests start real nats-server processes and wait out raft elections.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
