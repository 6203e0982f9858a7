// The membership service on its own, against an external NATS cluster
// (configuration: CONCLAVE_* environment variables, see libs/runtime/src/config.ts).
import { runService } from "@conclave/runtime";
import { membershipModule } from "./membership-module.ts";

await runService(() => [membershipModule]);
