// The blob service on its own, against an external NATS cluster
// (configuration: CONCLAVE_* environment variables, see libs/runtime/src/config.ts).
import { runService } from "@conclave/runtime";
import { blobModule } from "./blob-module.ts";

await runService(() => [blobModule]);
