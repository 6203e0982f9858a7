import { defineConfig } from "vitest/config";

// `npm run test:containers`: the real Docker stack and the container backend of
// the cluster harness. Not part of `npm test` (the root config excludes
// test/containers): it installs and starts a Docker engine when none answers
// (root, Debian's archive) and builds images, minutes on a cold machine.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: [
      "test/containers/*.test.ts",
      // One suite, two backends: the store's cluster tests, their NATS nodes in containers.
      "test/store/fail-closed.test.ts",
      "test/store/event-log.test.ts",
    ],
    globalSetup: ["./test/global-setup.ts", "./test/containers/global-setup.ts"],
    env: { CONCLAVE_NATS_BACKEND: "containers" },
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: "forks",
    // One at a time: the compose stack and the harness's containers share 2 cores.
    fileParallelism: false,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
