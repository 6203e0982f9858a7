import type { JetStreamManager, MsgRequest, StoredMsg } from "@nats-io/jetstream";
import { UnavailableError } from "./errors.ts";

/**
 * A leader message-get by subject (STREAM.MSG.GET): the stream's last message on `subject`, or,
 * with `fromSeq`, its first at or after that sequence; null when there is none. Every read of
 * the store by subject goes through here, so that an answer about another subject is never taken
 * for this one (an allowlist read decides who signed a request; a version read, whether an append
 * may go): it fails closed with UnavailableError instead. `subject` may hold `*` and `>`.
 */
export async function getBySubject(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  fromSeq?: number,
): Promise<StoredMsg | null> {
  // The server takes `next_by_subj` with a start sequence; the client's type lists only `seq`
  // and `last_by_subj`, and passes the query through as it is.
  const query = (fromSeq === undefined ? { last_by_subj: subject } : { seq: fromSeq, next_by_subj: subject }) as
    | MsgRequest
    | { seq: number; next_by_subj: string };
  const msg = await jsm.streams.getMessage(stream, query as MsgRequest);
  if (msg && !subjectMatches(subject, msg.subject)) {
    throw new UnavailableError(`${stream}: a read of ${subject} answered ${msg.subject}`);
  }
  return msg;
}

/** Whether a subject falls under a filter, by NATS's rules (`*` one token, `>` one or more at the end). */
export function subjectMatches(filter: string, subject: string): boolean {
  const want = filter.split(".");
  const got = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    if (want[i] === ">") return got.length > i;
    if (i >= got.length || (want[i] !== "*" && want[i] !== got[i])) return false;
  }
  return want.length === got.length;
}
