/**
 * Decides whether a new FTP control connection may stay, in one place: a
 * banned address, the per-address limit, the pre-login share (pre_auth.ts)
 * and the server's whole limit, where a full server first makes room by
 * closing its oldest connection that has not logged in. An admitted
 * connection gets a pre-login ticket: its login deadline runs from now.
 *
 * @module
 */
import {
  preAuthEndMessage,
  type PreAuthGate,
  preAuthRefusalMessage,
  type PreAuthTicket,
} from "../pre_auth.ts";

/** What is known about the server and the newcomer when it connects. */
export interface FtpAdmissionInput {
  /** The newcomer's address (the per-address key). */
  readonly address: string;
  /** True while the address is banned for failed logins. */
  readonly banned: boolean;
  /** Control connections from the address now, the newcomer included. */
  readonly fromAddress: number;
  /** Control connections now, the newcomer included. */
  readonly open: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly gate: PreAuthGate;
  /** Closes the connection with a 421 line when the gate ends it (deadline or eviction). */
  readonly close: (message: string) => void;
}

/** Admitted with a pre-login ticket, or refused with the text of its `421` line. */
export type FtpAdmission =
  | { readonly ok: true; readonly ticket: PreAuthTicket }
  | { readonly ok: false; readonly message: string };

/** Admits or refuses a new control connection (see the module doc for the order). */
export function admitFtpConnection(input: FtpAdmissionInput): FtpAdmission {
  const { gate, address } = input;
  if (input.banned) {
    return { ok: false, message: "Too many failed logins from your address: try again later" };
  }
  if (input.fromAddress > input.maxConnectionsPerIp) {
    return { ok: false, message: "Too many connections from your address: try again later" };
  }
  // An address over its pre-login share is refused before anyone is evicted for it.
  const share = gate.check(address);
  if (!share.ok) return { ok: false, message: preAuthRefusalMessage(share.limit) };
  if (input.open > input.maxConnections && !gate.makeRoom()) {
    return { ok: false, message: "Too many connections: try again later" };
  }
  const admitted = gate.admit(
    address,
    (why) => input.close(preAuthEndMessage(why, gate.loginDeadlineMs)),
  );
  return admitted.ok
    ? { ok: true, ticket: admitted.ticket }
    : { ok: false, message: preAuthRefusalMessage(admitted.limit) };
}
