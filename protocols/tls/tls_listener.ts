/**
 * The TLS command channel (a `node:tls` server with TCP_NODELAY on every
 * connection; tls_rebind.ts and node_tls_conn.ts say why not
 * `Deno.listenTls`). Accepting never waits on a client: handshakes have a
 * deadline, and each handshaken connection gets its own task and a
 * {@linkcode TlsSession}. Limits, each answered with a
 * clear error where the client can still read one and counted: connections
 * in total and per address, handshake time, idle time, line length,
 * requests per second per principal, login attempts per address.
 *
 * @example
 * ```ts
 * const tls = await startTlsListener(broker, { hostname: "127.0.0.1", port: 5000, cert, key, ... });
 * await tls.close();
 * ```
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { Message } from "../../broker/messages.ts";
import type { PrincipalDeclaration } from "../../config/home.ts";
import { getLogger } from "../../observability/logger.ts";
import { ConnectionCounter } from "../connection_counter.ts";
import type { Listener, ListenerReload } from "../listener.ts";
import { type PendingTls, ReloadableTlsServer } from "./tls_rebind.ts";
import { NodeTlsConn } from "./node_tls_conn.ts";
import { RateLimiter } from "../rate_limit.ts";
import { RefusalAuditor } from "../refusal_audit.ts";
import { systemClock, systemTimers, type Timers } from "../../broker/envelope.ts";
import { TlsCounters } from "./tls_counters.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import { type SessionContext, TlsSession, type TokenVerifier } from "./tls_session.ts";
import { errorLine } from "../replies.ts";
import { preAuthEndMessage, PreAuthGate, preAuthRefusalMessage } from "../pre_auth.ts";

/** Options for {@linkcode startTlsListener}; the limits come from `TLS_*` settings. */
export interface TlsListenerOptions {
  readonly hostname: string;
  readonly port: number;
  /** PEM certificate chain. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  /** `token`: connections log in; `none`: they act as `anonymousPrincipal` until they do. */
  readonly auth: "token" | "none";
  /** The home's principals (login checks the `tls` channel and the token). */
  readonly principals: readonly PrincipalDeclaration[];
  /** Required when `auth` is `none`: who unauthenticated connections act as. */
  readonly anonymous?: PrincipalDeclaration;
  readonly verifier: TokenVerifier;
  /** The one command path device requests go through. */
  readonly commandPath: CommandPath;
  readonly maxLineBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly unterminatedMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly commandsPerSecond: number;
  /** Login attempts per second per address (burst of twice as many); default 5. */
  readonly loginsPerSecond?: number;
  /** Time from accept to login (token auth only); default 10 s. */
  readonly loginTimeoutMs?: number;
  /** Most connections not logged in at once (token auth only); default 256. */
  readonly preLoginMaxConnections?: number;
  /** Most connections not logged in from one address; default 32. */
  readonly preLoginMaxConnectionsPerIp?: number;
  /** Longest wait for an actor's answer; default 10 s. */
  readonly askTimeoutMs?: number;
  /**
   * The clock of the login deadline, the idle timeout and the sessions' timers; default
   * {@linkcode systemTimers} (tests of timeouts pass a test clock).
   */
  readonly timers?: Timers;
}

/** Most connections being refused (handshake to say why) at once; more are just closed. */
const MAX_REFUSING = 64;

const log = getLogger("tls");

/** Starts listening; rejects when the address cannot be bound or the certificate is unreadable. */
export async function startTlsListener(
  broker: Broker,
  options: TlsListenerOptions,
): Promise<Listener> {
  const listener = new TlsListener(broker, options);
  // Reloadable (SIGHUP, issue 6): see tls_rebind.ts.
  const server = await ReloadableTlsServer.listen({
    hostname: options.hostname,
    port: options.port,
    cert: options.cert,
    key: options.key,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
  }, (pending) => listener.accept(pending));
  listener.bound(server);
  return listener;
}

class TlsListener implements Listener {
  readonly name = "tls";
  hostname = "";
  port = 0;
  #server: ReloadableTlsServer | undefined;
  readonly #options: TlsListenerOptions;
  readonly #counters = new TlsCounters();
  readonly #connections: ConnectionCounter;
  readonly #sessions = new Set<TlsSession>();
  readonly #subscribed = new Set<TlsSession>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #handshaking = new Set<PendingTls>();
  readonly #context: SessionContext;
  /** Pre-login deadline and share; none when `auth` is `none` (every connection acts at once). */
  readonly #preAuth: PreAuthGate | undefined;
  readonly #timers: Timers;
  #cancelSweep: (() => void) | undefined;
  readonly #unsubscribe: () => void;
  #refusing = 0;
  #listening = true;
  #closing: Promise<void> | undefined;

  constructor(broker: Broker, options: TlsListenerOptions) {
    this.#options = options;
    const timers = options.timers ?? systemTimers;
    this.#timers = timers;
    this.#connections = new ConnectionCounter({
      maxTotal: options.maxConnections,
      maxPerKey: options.maxConnectionsPerIp,
    });
    this.#preAuth = options.auth === "none" ? undefined : new PreAuthGate({
      maxPending: options.preLoginMaxConnections ?? 256,
      maxPendingPerKey: options.preLoginMaxConnectionsPerIp ?? 32,
      loginDeadlineMs: options.loginTimeoutMs ?? 10_000,
      timers,
    });
    const principals = new Map(options.principals.map((p) => [p.id, p]));
    if (options.auth === "none") {
      if (!options.anonymous) throw new Error("auth none needs the anonymous principal");
      principals.set(options.anonymous.id, options.anonymous);
    }
    const loginRate = options.loginsPerSecond ?? 5;
    this.#context = {
      broker,
      commandPath: options.commandPath,
      principals,
      defaultPrincipal: options.auth === "none" ? options.anonymous! : null,
      verifier: options.verifier,
      commandLimiter: new RateLimiter({ ratePerSecond: options.commandsPerSecond }),
      refusals: new RefusalAuditor(broker, {
        channel: "tls",
        perSecond: 500,
        clock: systemClock,
        onDropped: () => this.#counters.auditDropped++,
      }),
      loginLimiter: new RateLimiter({ ratePerSecond: loginRate, burst: loginRate * 2 }),
      counters: this.#counters,
      maxLineBytes: options.maxLineBytes,
      unterminatedMs: options.unterminatedMs,
      askTimeoutMs: options.askTimeoutMs ?? 10_000,
      timers,
      onSubscriptions: (session) => {
        if (session.subscribed) this.#subscribed.add(session);
        else this.#subscribed.delete(session);
      },
    };
    const unsubscribeChanges = broker.subscribe(["device.state_changed"], (message) => {
      for (const session of this.#subscribed) {
        session.push(message as Message<"device.state_changed">);
      }
    });
    // Rules' notification lines (issue 13) go to every subscribed connection.
    const unsubscribeNotes = broker.subscribe(["automation.notification"], (message) => {
      for (const session of this.#subscribed) session.notify(message);
    });
    this.#unsubscribe = () => {
      unsubscribeChanges();
      unsubscribeNotes();
    };
    const sweepEvery = Math.max(10, Math.min(1000, Math.floor(options.idleTimeoutMs / 2)));
    const sweep = () => {
      try {
        this.#sweepIdle();
      } finally {
        if (this.#listening) this.#cancelSweep = timers.after(sweepEvery, sweep);
      }
    };
    this.#cancelSweep = timers.after(sweepEvery, sweep);
    if (options.auth === "none") {
      log.warn(
        "TLS_AUTH=none: the TLS channel accepts commands WITHOUT login, as principal {principal} with access to every device. Use only for old seed clients on a trusted network",
        { principal: options.anonymous!.id },
      );
    }
  }

  /** The server is listening. */
  bound(server: ReloadableTlsServer): void {
    this.#server = server;
    this.hostname = server.hostname;
    this.port = server.port;
  }

  /** A TCP connection arrived: serve it in its own task. */
  accept(pending: PendingTls): void {
    if (!this.#listening) {
      pending.drop();
      return;
    }
    this.#counters.connectionsTotal++;
    const task = this.#serve(pending).catch((error) => {
      log.error("Connection task failed: {error}", { error: String(error) });
    });
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /**
   * After a reload, closes the sessions of removed principals, and the subscribed sessions of
   * principals whose declaration changed: their subscriptions were resolved with the old grants.
   * Commands of every other session are authorised with the new grants by the device actor.
   */
  #endStaleSessions(
    before: ReadonlyMap<string, PrincipalDeclaration>,
    after: ReadonlyMap<string, PrincipalDeclaration>,
  ): void {
    for (const session of this.#sessions) {
      const id = session.principalId;
      if (id === null) continue;
      const now = after.get(id);
      if (now === undefined) {
        session.close("unauthenticated", `Principal ${id} was removed by a reload: closing`);
      } else if (session.subscribed && JSON.stringify(now) !== JSON.stringify(before.get(id))) {
        session.close("forbidden", `The grants of ${id} changed: connect and subscribe again`);
      }
    }
  }

  /**
   * SIGHUP reload (issue 6): new logins are checked against the new principals (whatever happens
   * to the certificate), stale sessions are closed, and new connections get the new certificate
   * while open ones carry on.
   */
  reload(update: ListenerReload): Promise<string | undefined> {
    if (!this.#listening) return Promise.resolve("The TLS listener is closed");
    const principals = this.#context.principals as Map<string, PrincipalDeclaration>;
    const before = new Map(principals);
    principals.clear();
    for (const p of update.home.principals) principals.set(p.id, p);
    if (this.#options.auth === "none") {
      principals.set(this.#options.anonymous!.id, this.#options.anonymous!);
    }
    this.#endStaleSessions(before, principals);
    const refused = this.#server?.reload(update.cert, update.key);
    if (refused !== undefined) {
      return Promise.resolve(`Principals reloaded, but kept the previous certificate: ${refused}`);
    }
    return Promise.resolve(undefined);
  }

  get listening(): boolean {
    return this.#listening;
  }

  metrics(): Readonly<Record<string, number>> {
    return { ...this.#counters.snapshot(this.#connections.total), ...this.#preAuth?.metrics() };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#listening = false;
      this.#cancelSweep?.();
      this.#preAuth?.close();
      this.#context.refusals.flush(true);
      this.#unsubscribe();
      this.#server?.close();
      for (const pending of this.#handshaking) pending.drop();
      // Sessions answer what they already received, say why they close, then close (each within
      // its grace period): a command applied and audited is not left without its reply.
      for (const session of this.#sessions) session.close("busy", "The hub is shutting down");
      await Promise.all(this.#tasks);
    })();
    return this.#closing;
  }

  async #serve(pending: PendingTls): Promise<void> {
    const { host, address } = pending;
    const gate = this.#preAuth;
    const share = gate?.check(host) ?? { ok: true };
    if (!share.ok) return await this.#refuse(pending, preAuthRefusalMessage(share.limit));
    let slot = this.#connections.acquire(host);
    // A full listener makes room by closing its oldest connection that has not logged in.
    if (!slot.ok && slot.reason === "total" && gate?.makeRoom()) {
      slot = this.#connections.acquire(host);
    }
    if (!slot.ok) {
      return await this.#refuse(
        pending,
        slot.reason === "total"
          ? `Too many connections (${slot.limit}): try again later`
          : `Too many connections from your address (${slot.limit}): close one first`,
      );
    }
    const held = slot;
    let session: TlsSession | undefined;
    let conn: NodeTlsConn | undefined;
    let ended = false;
    // Before login (pre_auth.ts): a deadline from now, and a place in the pre-login share.
    const admitted = gate?.admit(host, (why) => {
      const message = preAuthEndMessage(why, gate.loginDeadlineMs);
      // Not yet handshaken: drop the TCP connection (the handshake then fails and ends the task).
      const closeUnstarted = () => {
        if (conn) closeQuietly(conn);
        else {
          ended = true;
          pending.drop();
        }
      };
      if (why === "evicted") {
        // Its slot goes to the newcomer at once; the connection closes in a moment.
        held.release();
        if (session) session.close("busy", message);
        else closeUnstarted();
      } else if (session) session.loginDeadlinePassed(message);
      else closeUnstarted();
    });
    const ticket = admitted?.ok ? admitted.ticket : undefined;
    try {
      conn = await this.#handshake(pending);
      if (conn === undefined) {
        this.#counters.handshakeFailures++;
        return;
      }
      if (!this.#listening || ended) return closeQuietly(conn);
      session = new TlsSession(conn, host, address, this.#context, () => ticket?.authenticated());
      this.#sessions.add(session);
      try {
        await session.run();
      } finally {
        this.#sessions.delete(session);
        this.#subscribed.delete(session);
      }
    } finally {
      ticket?.release();
      held.release();
    }
  }

  /** Tells a refused client why (after a handshake, when not too many are being refused). */
  async #refuse(pending: PendingTls, why: string): Promise<void> {
    this.#counters.refusedConnections++;
    this.#counters.rejected("busy");
    if (this.#refusing >= MAX_REFUSING) return pending.drop();
    this.#refusing++;
    try {
      const conn = await this.#handshake(pending);
      if (conn !== undefined) {
        await writeQuietly(conn, errorLine("text", null, { code: "busy", message: why }) + "\n");
        closeQuietly(conn);
      }
    } finally {
      this.#refusing--;
    }
  }

  /** The handshake within the deadline (node:tls keeps it); undefined when it failed. */
  async #handshake(pending: PendingTls): Promise<NodeTlsConn | undefined> {
    this.#handshaking.add(pending);
    try {
      const socket = await pending.handshake();
      return socket === undefined ? undefined : new NodeTlsConn(socket);
    } finally {
      this.#handshaking.delete(pending);
    }
  }

  #sweepIdle(): void {
    const limit = this.#options.idleTimeoutMs;
    const now = this.#timers.now();
    for (const session of this.#sessions) {
      if (now - session.lastActivity > limit) {
        this.#counters.idleClosed++;
        session.close("timeout", `Idle for more than ${limit} ms: closing`);
      }
    }
  }
}

function closeQuietly(conn: NodeTlsConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

async function writeQuietly(conn: NodeTlsConn, text: string): Promise<void> {
  try {
    const data = new TextEncoder().encode(text);
    let offset = 0;
    while (offset < data.length) offset += await conn.write(data.subarray(offset));
  } catch {
    // The client left; nothing to tell it.
  }
}
