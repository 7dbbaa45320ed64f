/**
 * What the HTTP channel is given by the hub and what its handlers share:
 * the command path, the broker (audit reads, snapshots, state changes), the
 * token checker, the home as last loaded, sessions and limits.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { Clock } from "../../broker/envelope.ts";
import type { Source } from "../../broker/messages.ts";
import type { Home, PrincipalDeclaration } from "../../config/home.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import type { StorageBytes } from "../../domain/storage_bytes.ts";
import type { Session, SessionCodec } from "./http_sessions.ts";

/** What a token check answers (the TLS login's verifier; sync or async). */
export type TokenCheck = "ok" | "wrong" | "throttled";

/** Checks a principal's token: the hub's `CredentialVerifier`. */
export interface TokenChecker {
  check(principal: string, kind: "token", secret: string): TokenCheck | Promise<TokenCheck>;
}

/** The HTTP channel's limits (settings `HTTP_*`). */
export interface HttpLimits {
  readonly maxBodyBytes: number;
  readonly ratePerPrincipal: number;
  readonly ratePerIp: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** How long a WebSocket client has to authenticate. */
  readonly wsAuthTimeoutMs: number;
}

/** Everything the HTTP handlers use. */
export interface HttpDeps {
  readonly broker: Broker;
  readonly commandPath: CommandPath;
  readonly verifier: TokenChecker;
  /** The storage side's bytes (camera snapshots are read through it). */
  readonly bytes: StorageBytes;
  /** The home as last loaded (grants change on SIGHUP). */
  readonly home: () => Home;
  readonly sessions: SessionCodec;
  /** True when the listener serves HTTPS (cookies get `Secure`). */
  readonly secure: boolean;
  readonly limits: HttpLimits;
  readonly clock: Clock;
  /** Longest wait for an actor's answer. */
  readonly askTimeoutMs: number;
}

/** An authenticated caller. */
export interface Caller {
  readonly principal: PrincipalDeclaration;
  readonly source: Source;
  /** Set when the caller came with the page's session cookie (not a bearer token). */
  readonly session?: Session;
}

/** The hono environment: the remote address and the request's connection slot come in as bindings. */
export interface HttpEnv {
  Bindings: {
    readonly remote: Deno.NetAddr;
    /** Keeps the request's connection slot past the handler (streams); returns its release. */
    readonly keepSlot: () => () => void;
  };
  Variables: { caller: Caller };
}

/** True when `principal` may use the HTTP channel (its token is its TLS token). */
export function mayUseHttp(principal: PrincipalDeclaration): boolean {
  return principal.channels.includes("tls") || principal.channels.includes("http");
}

/** Whether `principal` may see `device` (the device actor's own rule, domain/grants.ts). */
export { canSee } from "../../domain/grants.ts";

/** True when `principal` sees every device (and so every audit entry). */
export function seesAll(principal: PrincipalDeclaration): boolean {
  return principal.grants.some((g) => g.devices.includes("*"));
}

/** `host:port` of a remote address (IPv6 in brackets). */
export function remoteText(addr: Deno.NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
