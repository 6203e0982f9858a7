// A room is named by (tenant, id): ids are unique within a tenant only, and
// nothing about another tenant's rooms — not even that an id is taken — is
// observable (issue 15: a 409 across tenants told an outsider a room existed
// and let it squat ids and subjects). Every key, subject and lookup derives
// from both parts here, and only here.

export interface RoomRef {
  tenant: string;
  id: string;
}

/** The room's aggregate id on the event log, and its key in the rooms table. */
export const roomKey = (r: RoomRef) => `${r.tenant}.${r.id}`;
/** A room's default subject; custom subjects must stay below it, so rooms never share traffic. */
export const roomSubject = (r: RoomRef) => `conclave.room.${r.tenant}.${r.id}`;
/** A member's position in the members pages: `<tenant>.<room>.<member>` (cursors carry it; the members table it once keyed is gone). */
export const memberKey = (r: RoomRef, member: string) => `${roomKey(r)}.${member}`;
/** member_rooms table (discovery, admission): `<member>.<tenant>.<room>`; a member's rooms are all of its tenant. */
export const memberRoomKey = (member: string, r: RoomRef) => `${member}.${roomKey(r)}`;
/** The discovery filter of one member's rooms. */
export const memberRoomsFilter = (member: string, tenant: string) => `${member}.${tenant}.*`;
/** The room a key found with `memberRoomsFilter(member, tenant)` names. */
export const roomOfMemberRoomKey = (member: string, tenant: string, key: string): RoomRef => ({
  tenant,
  id: key.slice(`${member}.${tenant}.`.length),
});
/** room_keys table: `<tenant>.<room>.<epoch>.<member>`. */
export const roomKeyKey = (r: RoomRef, epoch: number, member: string) => `${roomKey(r)}.${epoch}.${member}`;

/**
 * The room an aggregate id names. Rooms created before ids were per tenant
 * have a bare id (`legacy`): their tenant is recorded in their `room.created`.
 */
export function parseRoomAggregate(aggregateId: string): RoomRef | { legacy: string } {
  const dot = aggregateId.indexOf(".");
  if (dot < 0) return { legacy: aggregateId };
  return { tenant: aggregateId.slice(0, dot), id: aggregateId.slice(dot + 1) };
}
