import type {
  AuditPage,
  BudgetView,
  MyRoom,
  RevocationResult,
  RoomView,
  RpcSuccessBody,
  SealedRoomKey,
  SessionResponse,
} from "@conclave/protocol";
import { describe, expectTypeOf, it } from "vitest";
import type { ConclaveClient } from "./conclave-client.ts";

// Checked by the typecheck (npm run typecheck): the SDK answers in the protocol's types, never its own copies.
type Answer<K extends keyof ConclaveClient> = ConclaveClient[K] extends (...args: never[]) => Promise<infer T>
  ? T
  : never;

describe("the SDK's wire types are the protocol's", () => {
  it("for sessions, budgets, audit, rooms and RPC", () => {
    expectTypeOf<Answer<"createSession">>().toEqualTypeOf<SessionResponse>();
    expectTypeOf<Answer<"revokeToken">>().toEqualTypeOf<RevocationResult>();
    expectTypeOf<Answer<"budget">>().toEqualTypeOf<BudgetView>();
    expectTypeOf<Answer<"setBudget">>().toEqualTypeOf<BudgetView>();
    expectTypeOf<Answer<"audit">>().toEqualTypeOf<AuditPage>();
    expectTypeOf<Answer<"getRoom">>().toEqualTypeOf<RoomView>();
    expectTypeOf<Answer<"myKey">>().toEqualTypeOf<SealedRoomKey>();
    expectTypeOf<Answer<"myRooms">>().toEqualTypeOf<MyRoom[]>();
    expectTypeOf<Answer<"rpc">>().toExtend<RpcSuccessBody>();
  });
});
