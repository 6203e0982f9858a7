export {
  type AccessConfig,
  AccessConfigError,
  accessEnvSchema,
  type LiveDisconnectConfig,
  loadAccessConfig,
} from "./access-config.ts";
export {
  type AccessMetrics,
  accessMetrics,
  type LiveDisconnectMetrics,
  liveDisconnectMetrics,
} from "./access-metrics.ts";
export { type AccessModuleOptions, createAccessModule } from "./access-module.ts";
export { type Admission, type AdmissionPolicy, type Denial, decideAdmission, provenSignPub } from "./admission.ts";
export { botPermissions, type MemberRoom } from "./bot-permissions.ts";
export { type CalloutRequest, parseCalloutRequest } from "./callout-request.ts";
export { type AdmissionSources, AUTH_CALLOUT_SUBJECT, CalloutResponder } from "./callout-responder.ts";
export {
  CONNZ_SUBJECT,
  ConnectionKicker,
  KickError,
  type KickResult,
  kickSubject,
  LAME_DUCK_SUBJECT,
} from "./connection-kicker.ts";
export { type AdmittedConnection, ConnectionRegistry } from "./connection-registry.ts";
export { IssuerKey } from "./issuer-key.ts";
export { kickDurable, LiveDisconnect } from "./live-disconnect.ts";
export { type RoomsOfMember, storeRoomsOfMember } from "./rooms-of-member.ts";
