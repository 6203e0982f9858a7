/**
 * Names of the data plane (SPEC §10) that the auth callout grants and the
 * SDK uses: declared once so the two cannot drift.
 */

/** A room's subject and everything below it: the only room subjects there are (membership refuses others). */
export const ROOM_SUBJECT = /^conclave\.room\.[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64})*$/;

/**
 * A bot's own request/reply inbox prefix: `_INBOX_<sign_pub>`. The callout
 * lets the bot subscribe below it and nobody else; replies reach it through
 * the responders' one-shot response permission.
 */
export function botInboxPrefix(signPub: string): string {
  if (!/^[A-Za-z0-9_-]{43}$/.test(signPub)) throw new TypeError("a sign_pub is 43 base64url characters");
  return `_INBOX_${signPub}`;
}
