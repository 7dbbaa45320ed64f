/**
 * The UDP channel: signed datagrams for sensors and quick commands
 * (`Deno.listenDatagram`, unstable: needs `"unstable": ["net"]`).
 *
 * Each datagram goes through, in order: the per-address rate, the size
 * limit, the in-flight limit, the layout, the principal and its MAC, the
 * per-principal rate, the reply cache (a retransmission gets the same reply
 * and is applied once), the time window, the replay cache, then the device
 * actor and the audit log (an acknowledged datagram is recorded durably
 * before its reply; the signed steps after the MAC are in udp_signed.ts). Every step's refusal is counted, audited and answered
 * with a reply no larger than the datagram that caused it.
 *
 * With `UDP_AUTH=none` (seed compatibility), plain-text datagrams such as
 * `lamp on` run as the full-access `anonymous` principal (see
 * {@linkcode handlePlainDatagram}); signed datagrams still work.
 *
 * Exact format: docs/UDP.md.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import { type Clock, systemClock } from "../../broker/envelope.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import type { AuditAppendPayload, ErrorCode, Json, Source } from "../../broker/messages.ts";
import type { PrincipalDeclaration } from "../../config/home.ts";
import { getLogger } from "../../observability/logger.ts";
import { addressHost, addressText } from "../connection_counter.ts";
import { type SigningKey, signingKey } from "./hmac.ts";
import type { Listener, ListenerReload } from "../listener.ts";
import { RateLimiter } from "../rate_limit.ts";
import { RefusalAuditor } from "../refusal_audit.ts";
import { ReplayCache } from "./replay_cache.ts";
import { ReplyCache } from "./udp_reply_cache.ts";
import { decodeRequest, encodeUnsignedReply, looksSigned, verifyRequest } from "./udp_datagram.ts";
import { handlePlainDatagram } from "./udp_plain.ts";
import { handleAuthenticated, type SignedPathParts } from "./udp_signed.ts";
import type { DatagramContext, UdpCounter, UdpServices } from "./udp_services.ts";

const log = getLogger("udp");

/**
 * Receives kept pending at once, each with its own buffer. Datagrams that
 * arrived together are then delivered in the same turn of the event loop,
 * so their commands reach the device and audit actors as one batch (one
 * commit for the batch instead of one per datagram).
 */
export const RECEIVERS = 8;

/** Settings of the UDP listener (from `UDP_*`). */
export interface UdpListenerOptions {
  /** The one command path device requests go through. */
  readonly commandPath: CommandPath;
  readonly hostname: string;
  readonly port: number;
  /** `hmac`: signed datagrams only. `none`: plain-text seed datagrams too. */
  readonly auth: "hmac" | "none";
  readonly maxDatagramBytes: number;
  readonly windowSeconds: number;
  readonly replayCacheSize: number;
  readonly replyCacheSize: number;
  readonly ratePerAddress: number;
  readonly ratePerPrincipal: number;
  readonly maxInFlight: number;
  /** The home's principals; only those with `udp` in `channels` may sign. */
  readonly principals: readonly PrincipalDeclaration[];
  /** The raw UDP key of a principal (read once per principal, then kept in memory). */
  readonly udpKey: (principal: string) => Uint8Array | undefined;
  /** How long to wait for the device actor and the audit log. */
  readonly requestTimeoutMs?: number;
  /** Most individually audited rejections per second; the rest are audited as summaries. */
  readonly rejectionAuditsPerSecond?: number;
  readonly clock?: Clock;
}

/** A running UDP listener. */
export class UdpListener implements Listener {
  readonly name = "udp";
  readonly hostname: string;
  readonly port: number;
  readonly #conn: Deno.DatagramConn;
  readonly #services: UdpServices;
  readonly #signedPath: SignedPathParts;
  readonly #options: UdpListenerOptions;
  readonly #broker: Broker;
  readonly #clock: Clock;
  readonly #principals = new Map<string, PrincipalDeclaration>();
  readonly #keys = new Map<string, SigningKey | null>();
  readonly #addressRate: RateLimiter;
  readonly #principalRate: RateLimiter;
  readonly #refusals: RefusalAuditor;
  readonly #replays: ReplayCache;
  readonly #replies: ReplyCache;
  readonly #floodNotices: RateLimiter;
  /** Shown from the start (at 0), so that rates and alerts work before the first datagram. */
  readonly #counters = new Map<string, number>([
    "datagrams_total",
    "accepted_total",
    "replies_total",
    "replies_dropped_total",
    "retransmitted_total",
    "send_errors_total",
    "audit_dropped_total",
  ].map((name) => [name, 0]));
  readonly #inFlight = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;
  #closed = false;

  /** Binds the socket (throws when the port is taken); call {@linkcode UdpListener.start}. */
  constructor(broker: Broker, options: UdpListenerOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    for (const p of options.principals) {
      if (p.channels.includes("udp")) this.#principals.set(p.id, p);
    }
    const clock = this.#clock;
    this.#addressRate = new RateLimiter({ ratePerSecond: options.ratePerAddress, clock });
    this.#principalRate = new RateLimiter({ ratePerSecond: options.ratePerPrincipal, clock });
    this.#refusals = new RefusalAuditor(broker, {
      channel: "udp",
      perSecond: options.rejectionAuditsPerSecond ?? 500,
      clock,
      onDropped: () => this.#count("audit_dropped_total"),
    });
    this.#floodNotices = new RateLimiter({ ratePerSecond: 1, clock });
    this.#replays = new ReplayCache({
      capacity: options.replayCacheSize,
      windowSeconds: options.windowSeconds,
    });
    this.#replies = new ReplyCache({
      capacity: Math.max(options.replyCacheSize, options.maxInFlight + 1),
      ttlSeconds: options.windowSeconds,
    });
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname,
      port: options.port,
    });
    const addr = this.#conn.addr as Deno.NetAddr;
    this.hostname = addr.hostname;
    this.port = addr.port;
    this.#services = this.#makeServices();
    this.#signedPath = {
      services: this.#services,
      replies: this.#replies,
      replays: this.#replays,
      principalRate: this.#principalRate,
      windowSeconds: options.windowSeconds,
      ratePerPrincipal: options.ratePerPrincipal,
      maxDatagramBytes: options.maxDatagramBytes,
    };
  }

  /** Starts receiving. */
  start(): this {
    if (this.#options.auth === "none") {
      log.warn(
        "UDP_AUTH=none: unsigned datagrams are executed with full access (seed compatibility); use only on a trusted network",
      );
    }
    this.#loop = Promise.all(Array.from({ length: RECEIVERS }, () => this.#receiveLoop()))
      .then(() => {});
    log.debug("UDP channel listening on {host}:{port} (auth {auth})", {
      host: this.hostname,
      port: this.port,
      auth: this.#options.auth,
    });
    return this;
  }

  /**
   * SIGHUP reload (issue 6): datagrams are checked against the new
   * principals and their current keys (re-read on first use).
   */
  reload(update: ListenerReload): Promise<string | undefined> {
    this.#principals.clear();
    for (const p of update.home.principals) {
      if (p.channels.includes("udp")) this.#principals.set(p.id, p);
    }
    this.#keys.clear();
    return Promise.resolve(undefined);
  }

  get listening(): boolean {
    return !this.#closed;
  }

  metrics(): Readonly<Record<string, number>> {
    return {
      ...Object.fromEntries(this.#counters),
      in_flight: this.#inFlight.size,
      replay_cache_size: this.#replays.size,
      replay_cache_evictions_total: this.#replays.evictions,
      reply_cache_size: this.#replies.size,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return await this.#loop;
    this.#closed = true;
    this.#conn.close();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
    this.#refusals.flush(true);
  }

  async #receiveLoop(): Promise<void> {
    // One byte more than the limit: a datagram that fills it is too large.
    const buffer = new Uint8Array(this.#options.maxDatagramBytes + 1);
    while (!this.#closed) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await this.#conn.receive(buffer);
      } catch (error) {
        if (this.#closed) break;
        log.warn("UDP receive failed: {error}", { error: String(error) });
        continue;
      }
      const [view, addr] = received;
      // A copy: the buffer is reused by the next receive.
      const ctx: DatagramContext = {
        bytes: view.slice(),
        addr,
        address: addressText(addr),
        nowMs: this.#clock.now(),
      };
      this.#count("datagrams_total");
      const work = this.#handle(ctx).catch((error) => {
        log.error("UDP datagram handling failed: {error}", { error: String(error) });
      });
      this.#inFlight.add(work);
      void work.finally(() => this.#inFlight.delete(work));
    }
  }

  async #handle(ctx: DatagramContext): Promise<void> {
    const s = this.#services;
    this.#refusals.flush(false);
    const host = addressHost(ctx.addr);
    if (!this.#addressRate.take(host)) {
      this.#count('rejected_total{reason="rate_limited_address"}');
      this.#refusals.summarise(host, "rate_limited_address");
      // One notice per second per address; the rest are dropped (each counted).
      if (this.#floodNotices.take(host)) {
        await s.send(
          ctx,
          unsigned(ctx, "rate_limited", "-", "Too many datagrams from your address"),
        );
      } else this.#count("replies_dropped_total");
      return;
    }
    const { bytes } = ctx;
    if (bytes.length > this.#options.maxDatagramBytes) {
      return await this.#refuseUnsigned(ctx, "too_large", "too_large", "-", {
        message: `Datagram larger than ${this.#options.maxDatagramBytes} bytes`,
      });
    }
    if (this.#inFlight.size >= this.#options.maxInFlight) {
      return await this.#refuseUnsigned(ctx, "busy", "busy", "-", {
        message: "Hub is busy, try again",
      });
    }
    if (this.#options.auth === "none" && !looksSigned(bytes)) {
      return await handlePlainDatagram(s, ctx);
    }
    const decoded = decodeRequest(bytes);
    if (!decoded.ok) {
      return await this.#refuseUnsigned(ctx, "malformed", decoded.reason, decoded.id ?? "-", {
        message: decoded.message,
      });
    }
    const request = decoded.value;
    const key = this.#keyOf(request.principal);
    if (key === undefined) {
      // The same HMAC work as a bad signature, so timing does not tell which principals exist.
      verifyRequest(request, UNKNOWN_PRINCIPAL_KEY);
      return await this.#refuseUnsigned(ctx, "unauthenticated", "unknown_principal", request.id, {
        message: "Unknown principal or bad signature",
        claimed: request.principal,
      });
    }
    if (!verifyRequest(request, key)) {
      return await this.#refuseUnsigned(ctx, "unauthenticated", "bad_mac", request.id, {
        message: "Unknown principal or bad signature",
        claimed: request.principal,
      });
    }
    return await handleAuthenticated(this.#signedPath, ctx, request, key);
  }

  async #refuseUnsigned(
    ctx: DatagramContext,
    code: ErrorCode,
    reason: string,
    id: string,
    detail: { message: string; claimed?: string },
  ): Promise<void> {
    const s = this.#services;
    s.reject(ctx, reason);
    const extra: Record<string, Json> = { reason, size: ctx.bytes.length };
    if (id !== "-") extra.id = id;
    if (detail.claimed !== undefined) extra.claimed = detail.claimed;
    s.auditRejection(ctx, { principal: null, channel: "udp", address: ctx.address }, {
      action: "udp.rejected",
      outcome: "rejected",
      code,
      detail: extra,
    });
    await s.send(ctx, unsigned(ctx, code, id, detail.message));
  }

  #keyOf(principal: string): SigningKey | undefined {
    const cached = this.#keys.get(principal);
    if (cached !== undefined) return cached ?? undefined;
    if (!this.#principals.has(principal)) return undefined;
    const raw = this.#options.udpKey(principal);
    const key = raw === undefined ? null : signingKey(raw);
    this.#keys.set(principal, key);
    return key ?? undefined;
  }

  #count(counter: string): void {
    this.#counters.set(counter, (this.#counters.get(counter) ?? 0) + 1);
  }

  #makeServices(): UdpServices {
    const broker = this.#broker;
    const timeoutMs = this.#options.requestTimeoutMs ?? 5000;
    const count = (counter: UdpCounter) => this.#count(counter);
    const auditLater = (source: Source, payload: AuditAppendPayload) =>
      this.#refusals.write(source, payload);
    return {
      broker,
      commandPath: this.#options.commandPath,
      timeoutMs,
      count,
      reject: (_ctx, reason) => this.#count(`rejected_total{reason="${reason}"}`),
      send: async (ctx, reply) => {
        if (reply === undefined || reply.length === 0) {
          count("replies_dropped_total");
          return;
        }
        try {
          await this.#conn.send(reply, ctx.addr);
          count("replies_total");
        } catch (error) {
          count("send_errors_total");
          if (!this.#closed) log.warn("UDP send failed: {error}", { error: String(error) });
        }
      },
      auditLater,
      auditRejection: (ctx, source, payload) =>
        this.#refusals.refuse(source, payload, addressHost(ctx.addr)),
    };
  }
}

/** Binds and starts a UDP listener. */
export function startUdpListener(broker: Broker, options: UdpListenerOptions): UdpListener {
  return new UdpListener(broker, options).start();
}

/** A random key no datagram is signed with: unknown principals are checked against it. */
const UNKNOWN_PRINCIPAL_KEY = signingKey(crypto.getRandomValues(new Uint8Array(32)));

/** An unsigned error reply no larger than the datagram it answers. */
function unsigned(
  ctx: DatagramContext,
  code: ErrorCode,
  id: string,
  message: string,
): Uint8Array | undefined {
  return encodeUnsignedReply({ code, id, message }, ctx.bytes.length);
}
