// How long and how big the bench runs. `--smoke` (CI, test/bench/bench-smoke.test.ts):
// every section runs, briefly and small, so the bench cannot break silently;
// its figures are printed, never compared with anything.
export const SMOKE = process.argv.includes("--smoke");
const onlyAt = process.argv.indexOf("--only");
/** `--only <text>`: run only the sections whose title holds it (test/bench/run.ts). */
export const ONLY = onlyAt < 0 ? undefined : process.argv[onlyAt + 1];
if (onlyAt >= 0 && !ONLY) throw new Error("--only needs a section title's substring");
/** `BENCH_CPU_PROF=<dir>`: spawned replicas write a V8 CPU profile there when they stop (node --cpu-prof). */
export const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;
export const SECONDS = Number(process.env.BENCH_SECONDS ?? (SMOKE ? 0.5 : 4));
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** Membership replicas behind the signed-GET scale rows. */
export const REPLICA_COUNTS = SMOKE ? [1, 2] : [1, 2, 4];
/** Users table sizes behind the table-growth rows. */
export const TABLE_SIZES = SMOKE ? [1_000] : [1_000, 10_000, 100_000];
/** Rooms of one member (one tenant) behind the rooms-listing rows. */
export const ROOM_COUNTS = SMOKE ? [100] : [100, 1_000, 10_000];
