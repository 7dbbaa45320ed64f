/**
 * What the sessions of one TLS listener share ({@linkcode SessionContext}),
 * the limits every session keeps, and the shape of one answer.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { Timers } from "../../broker/envelope.ts";
import type { Refusal } from "../../broker/messages.ts";
import type { PrincipalDeclaration } from "../../config/home.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import type { RefusalAuditor } from "../refusal_audit.ts";
import type { RateLimiter } from "../rate_limit.ts";
import type { RequestFormat, RequestId } from "../command_parser.ts";
import { errorLine, jsonOk } from "../replies.ts";
import type { TlsCounters } from "./tls_counters.ts";
import type { TlsSession } from "./tls_session.ts";

/** Checks a principal's token (the hub's CredentialVerifier fits). */
export interface TokenVerifier {
  /** `source` is the client's address: hash work is bounded per address and hub-wide. */
  check(
    principal: string,
    kind: "token",
    secret: string,
    source: string,
  ): Promise<"ok" | "wrong" | "throttled">;
}

/** What every session of one listener shares. */
export interface SessionContext {
  readonly broker: Broker;
  /** The one command path device requests go through. */
  readonly commandPath: CommandPath;
  /** Principals by id (the home's, plus the anonymous one when auth is off). */
  readonly principals: ReadonlyMap<string, PrincipalDeclaration>;
  /** The principal of a connection that has not logged in; null requires login. */
  readonly defaultPrincipal: PrincipalDeclaration | null;
  readonly verifier: TokenVerifier;
  readonly commandLimiter: RateLimiter;
  /** Audits refused requests within a budget, summarising floods. */
  readonly refusals: RefusalAuditor;
  readonly loginLimiter: RateLimiter;
  readonly counters: TlsCounters;
  readonly maxLineBytes: number;
  readonly unterminatedMs: number;
  readonly askTimeoutMs: number;
  /** The clock of the session's timers (idle time, unterminated-line grace, closing grace). */
  readonly timers: Timers;
  /** Called when the session's subscriptions change (the listener routes pushes). */
  readonly onSubscriptions: (session: TlsSession) => void;
}

/** Most requests of one connection being answered at once; reading pauses beyond. */
export const MAX_IN_FLIGHT = 256;
/** Most unsent output bytes a connection may hold before it counts as too slow. */
export const MAX_PENDING_OUTPUT = 1 << 20;
/** Output that is written at once, whatever is still being handled. */
export const COALESCE_BYTES = 16 * 1024;
/** Failed logins on one connection before it is closed. */
export const MAX_LOGIN_FAILURES = 5;

/** One request's reply line, and whether the connection closes after it. */
export interface Answer {
  readonly line: string;
  readonly close: boolean;
}

/** Builds the answers to one request, in its format (`fail` counts the refusal). */
export interface Reply {
  fail(error: Refusal, close?: boolean): Answer;
  ok(text: string, result: unknown, close?: boolean): Answer;
}

/** The {@linkcode Reply} for a request of `format` with `id`. */
export function replyFor(format: RequestFormat, id: RequestId, counters: TlsCounters): Reply {
  return {
    fail(error, close = false) {
      counters.rejected(error.code);
      return { line: errorLine(format, id, error), close };
    },
    ok(text, result, close = false) {
      return { line: format === "json" ? jsonOk(id, result) : text, close };
    },
  };
}
