/**
 * A client for the hub's UDP channel: signs requests with a principal's key,
 * sends them, retransmits the identical datagram until a reply or the
 * deadline (safe: the hub applies a message id once), and checks the
 * reply's signature. Several requests may be outstanding at once.
 *
 * @example Turn the lamp on
 * ```ts
 * using client = UdpClient.open({ hostname: "127.0.0.1", port: 6000,
 *   principal: "admin", keyHex: Deno.env.get("UDP_KEY")! });
 * const result = await client.command("lamp on");
 * if (result.ok) console.log(result.text); // "lamp power=on brightness=100"
 * ```
 *
 * @module
 */
import { type SigningKey, signingKeyFromHex } from "../protocols/udp/hmac.ts";
import {
  type DatagramKind,
  decodeReply,
  encodeRequest,
  type ReplyStatus,
} from "../protocols/udp/udp_datagram.ts";

/** Options for {@linkcode UdpClient.open}. */
export interface UdpClientOptions {
  readonly hostname: string;
  readonly port: number;
  readonly principal: string;
  /** The principal's UDP key as 64 hex digits. */
  readonly keyHex: string;
  /** Wait for a reply this long before retransmitting (doubles per attempt). */
  readonly attemptTimeoutMs?: number;
  /** Retransmissions after the first send. */
  readonly retries?: number;
  /** The local address to bind (default 127.0.0.1 for a loopback hub, else 0.0.0.0). */
  readonly localHostname?: string;
}

/** What a request came to. */
export type UdpResult =
  /** A signed `ok` reply; `text` is `<device> key=value ...`. */
  | {
    readonly ok: true;
    readonly text: string;
    readonly attempts: number;
    readonly rttMs: number;
  }
  /** A refusal: signed (the hub vouches for it) or unsigned (request not authenticated). */
  | {
    readonly ok: false;
    readonly code: ReplyStatus | "timeout" | "bad_reply";
    readonly message: string;
    readonly signed: boolean;
    readonly attempts: number;
  };

interface Pending {
  readonly resolve: (result: UdpResult) => void;
  readonly sentAt: number;
  attempts: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A UDP client bound to one local socket. */
export class UdpClient implements Disposable {
  readonly #conn: Deno.DatagramConn;
  readonly #target: Deno.NetAddr;
  readonly #principal: string;
  readonly #key: SigningKey;
  readonly #attemptTimeoutMs: number;
  readonly #retries: number;
  readonly #pending = new Map<string, Pending>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #loop: Promise<void> | undefined;
  #closed = false;
  #plainWaiter: ((text: string) => void) | undefined;

  private constructor(options: UdpClientOptions, key: SigningKey) {
    this.#principal = options.principal;
    this.#key = key;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 500;
    this.#retries = options.retries ?? 3;
    this.#target = { transport: "udp", hostname: options.hostname, port: options.port };
    const loopback = options.hostname === "127.0.0.1" || options.hostname === "localhost";
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.localHostname ?? (loopback ? "127.0.0.1" : "0.0.0.0"),
      port: 0,
    });
  }

  /** Opens a client; throws when the key is not hex (a usage error). */
  static open(options: UdpClientOptions): UdpClient {
    const key = signingKeyFromHex(options.keyHex);
    if (key === undefined) throw new TypeError("The UDP key must be hex digits (64 for 32 bytes)");
    return new UdpClient(options, key);
  }

  /** Sends a command line (`lamp on`, `thermostat set 21.5`, `status lamp`). */
  command(text: string): Promise<UdpResult> {
    return this.request("cmd", text);
  }

  /** Reports a reading (`hall-sensor temperature 21.4`; no value means a press). */
  report(device: string, metric: string, value?: string | number | boolean): Promise<UdpResult> {
    return this.request("rpt", [device, metric, ...(value === undefined ? [] : [value])].join(" "));
  }

  /** Signs and sends one request, retransmitting until a reply or the last attempt times out. */
  request(kind: DatagramKind, body: string): Promise<UdpResult> {
    const id = randomHex(8);
    const bytes = encodeRequest({
      principal: this.#principal,
      timestamp: Math.floor(Date.now() / 1000),
      nonce: randomHex(8),
      id,
      kind,
      body,
    }, this.#key);
    return this.#exchange(id, bytes);
  }

  /**
   * Sends the exact bytes of an already signed request (tests, firmware
   * checks) and waits for the reply to message `id`.
   */
  sendSigned(id: string, bytes: Uint8Array): Promise<UdpResult> {
    return this.#exchange(id, bytes);
  }

  /** Seed mode (`UDP_AUTH=none`): sends plain text once and returns the reply line, or undefined. */
  async sendPlain(text: string, timeoutMs = 2000): Promise<string | undefined> {
    this.#ensureLoop();
    const reply = new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#plainWaiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#timers.add(timer);
      this.#plainWaiter = (line) => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve(line);
      };
    });
    await this.#conn.send(encoder.encode(text), this.#target);
    return await reply;
  }

  /** Stops receiving and fails outstanding requests with `timeout`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const [, pending] of this.#pending) {
      pending.resolve({
        ok: false,
        code: "timeout",
        message: "Client closed",
        signed: false,
        attempts: pending.attempts,
      });
    }
    this.#pending.clear();
    this.#conn.close();
  }

  /** Closes and waits for the receive loop to end. */
  async closed(): Promise<void> {
    this.close();
    await this.#loop;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #exchange(id: string, bytes: Uint8Array): Promise<UdpResult> {
    if (this.#closed) {
      return Promise.resolve({
        ok: false,
        code: "timeout",
        message: "Client closed",
        signed: false,
        attempts: 0,
      });
    }
    this.#ensureLoop();
    return new Promise<UdpResult>((resolve) => {
      const pending: Pending = { resolve, sentAt: performance.now(), attempts: 0 };
      this.#pending.set(id, pending);
      const attempt = (timeoutMs: number) => {
        if (!this.#pending.has(id)) return;
        pending.attempts++;
        this.#conn.send(bytes, this.#target).catch(() => {/* retried or timed out below */});
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          if (!this.#pending.has(id)) return;
          if (pending.attempts <= this.#retries) attempt(timeoutMs * 2);
          else {
            this.#pending.delete(id);
            resolve({
              ok: false,
              code: "timeout",
              message: `No reply after ${pending.attempts} attempts`,
              signed: false,
              attempts: pending.attempts,
            });
          }
        }, timeoutMs);
        this.#timers.add(timer);
      };
      attempt(this.#attemptTimeoutMs);
    });
  }

  #ensureLoop(): void {
    this.#loop ??= this.#receiveLoop();
  }

  async #receiveLoop(): Promise<void> {
    const buffer = new Uint8Array(65_536);
    while (!this.#closed) {
      let data: Uint8Array;
      try {
        [data] = await this.#conn.receive(buffer);
      } catch {
        if (this.#closed) return;
        continue;
      }
      this.#dispatch(data.slice());
    }
  }

  #dispatch(bytes: Uint8Array): void {
    const decoded = decodeReply(bytes, this.#key);
    if (decoded.signed === null) {
      const waiter = this.#plainWaiter;
      this.#plainWaiter = undefined;
      waiter?.(decoder.decode(bytes));
      return;
    }
    const id = decoded.reply.id;
    let pending = this.#pending.get(id);
    if (pending === undefined && id === "-" && this.#pending.size === 1) {
      // An unsigned refusal that could not carry the id: it answers the only request.
      const only = [...this.#pending][0]!;
      pending = only[1];
      this.#pending.delete(only[0]);
    } else if (pending !== undefined) this.#pending.delete(id);
    if (pending === undefined) {
      const waiter = this.#plainWaiter;
      this.#plainWaiter = undefined;
      waiter?.(decoder.decode(bytes));
      return;
    }
    if (decoded.signed) {
      const { status, text } = decoded.reply;
      pending.resolve(
        status === "ok"
          ? {
            ok: true,
            text,
            attempts: pending.attempts,
            rttMs: performance.now() - pending.sentAt,
          }
          : { ok: false, code: status, message: text, signed: true, attempts: pending.attempts },
      );
    } else {
      pending.resolve({
        ok: false,
        code: decoded.reply.code,
        message: decoded.reply.message,
        signed: false,
        attempts: pending.attempts,
      });
    }
  }
}

function randomHex(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
}
