/**
 * What of a request from a client that has not logged in may be kept in the
 * audit log: its first word only (capped, control bytes replaced), never its
 * arguments, and a refusal's message only when it is a fixed one. A mistyped
 * `lgin admin <token>` or a bare `admin <token>` then leaves no secret behind.
 * Shared by the listeners (refusals before a request reaches the command
 * path) and the device actor (refusals it journals).
 *
 * @module
 */
import type { ErrorCode, Source } from "../broker/messages.ts";
import { ANONYMOUS_PRINCIPAL_ID } from "./grants.ts";

/** Longest first word kept in the audit entry of an untrusted line. */
const MAX_AUDITED_WORD = 32;

/**
 * True when a request's source has not logged in: no principal, or the stand-in principal of
 * `TLS_AUTH=none` / `UDP_AUTH=none` (seed compatibility).
 */
export function isUnauthenticated(source: Source): boolean {
  return source.principal === null || source.principal === ANONYMOUS_PRINCIPAL_ID;
}

/** True when the words of a request refused with `code` from `source` must not be audited. */
export function isUntrusted(source: Source, code: ErrorCode | undefined): boolean {
  return code === "unauthenticated" || code === "rate_limited" || isUnauthenticated(source);
}

/** True when a refusal's message is fixed text (it quotes none of the client's words). */
export function hasFixedMessage(code: ErrorCode): boolean {
  return code === "unauthenticated" || code === "rate_limited";
}

/** The first word of an untrusted line as it may be audited. */
export function untrustedCommandWords(word: string): string {
  // deno-lint-ignore no-control-regex
  return word.slice(0, MAX_AUDITED_WORD).replace(/[\x00-\x1f\x7f]/g, "?");
}
