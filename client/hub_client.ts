/**
 * A small client of the hub's TLS command channel, for programs, the CLI
 * and the tests. It speaks the JSON form (docs/PROTOCOL.md): every request
 * gets an id, replies are matched by id, pushed changes go to `onEvent`.
 *
 * @example
 * ```ts
 * const hub = await HubClient.connect({ port: 5000, caFile: "certs/server.crt" });
 * await hub.login("admin", token);
 * const lamp = await hub.command("lamp", "brightness", 40);
 * if (lamp.ok) console.log(lamp.result.state);
 * hub.close();
 * ```
 *
 * @module
 */
import type {
  DeviceSnapshot,
  DeviceState,
  DiscoveredDevice,
  ErrorCode,
  RuleSummary,
  SceneReport,
} from "../broker/messages.ts";

/** Where and how to connect. */
export interface HubClientOptions {
  readonly hostname?: string;
  readonly port: number;
  /** PEM CA certificates to trust (the hub's self-signed certificate, say). */
  readonly caCerts?: readonly string[];
  /** A PEM file to trust, read at connect time. */
  readonly caFile?: string;
  /** Longest wait for any reply; default 10 s. */
  readonly timeoutMs?: number;
}

/** A reply: the result, or a refusal with its stable code. */
export type HubReply<T = unknown> =
  | { readonly id: number; readonly ok: true; readonly result: T }
  | {
    readonly id: number | null;
    readonly ok: false;
    readonly error: { readonly code: ErrorCode | "disconnected"; readonly message: string };
  };

/** A pushed state change. */
export interface HubEvent {
  readonly event: "state_changed";
  readonly device: string;
  readonly state: DeviceState;
  readonly previous: DeviceState;
  readonly at: string;
}

/** A rule's pushed notification line (issue 13), sent to subscribed connections. */
export interface HubNotification {
  readonly event: "notification";
  readonly rule: string;
  readonly message: string;
  readonly at: string;
}

interface Pending {
  resolve(reply: HubReply): void;
  timer: ReturnType<typeof setTimeout>;
}

const encoder = new TextEncoder();

/** A connection to the hub speaking the JSON form. */
export class HubClient implements AsyncDisposable {
  readonly #conn: Deno.TlsConn;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(event: HubEvent) => void>();
  readonly #notes = new Set<(note: HubNotification) => void>();
  readonly #reading: Promise<void>;
  #nextId = 1;
  #closed = false;
  #outbox: string[] = [];
  #writing: Promise<void> = Promise.resolve();

  private constructor(conn: Deno.TlsConn, timeoutMs: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.#reading = this.#readLoop();
  }

  /** Connects and completes the TLS handshake. */
  static async connect(options: HubClientOptions): Promise<HubClient> {
    const caCerts = [...(options.caCerts ?? [])];
    if (options.caFile) caCerts.push(await Deno.readTextFile(options.caFile));
    const conn = await Deno.connectTls({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      ...(caCerts.length ? { caCerts } : {}),
    });
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return new HubClient(conn, options.timeoutMs ?? 10_000);
  }

  /** Logs in as `principal` with its token. */
  login(principal: string, token: string): Promise<HubReply<{ principal: string }>> {
    return this.request({ op: "login", principal, token });
  }

  /** Sends a command; the result is the device's new snapshot. */
  command(
    device: string,
    action: string,
    ...args: (string | number | boolean)[]
  ): Promise<HubReply<DeviceSnapshot>> {
    return this.request({ op: "command", device, action, args });
  }

  /** The snapshot of one device. */
  status(device: string): Promise<HubReply<DeviceSnapshot>> {
    return this.request({ op: "status", device });
  }

  /** The snapshots of every device this principal may see. */
  devices(): Promise<HubReply<DeviceSnapshot[]>> {
    return this.request({ op: "devices" });
  }

  /** Watches one device, or every device with `*`; changes go to {@linkcode HubClient.onEvent}. */
  subscribe(device: string): Promise<HubReply<{ subscribed: string; devices?: string[] }>> {
    return this.request({ op: "subscribe", device });
  }

  /** Stops watching one device, or all with `*`. */
  unsubscribe(device: string): Promise<HubReply<{ unsubscribed: string }>> {
    return this.request({ op: "unsubscribe", device });
  }

  /** Every automation rule, with whether it is enabled and when it last ran. */
  rules(): Promise<HubReply<RuleSummary[]>> {
    return this.request({ op: "rules", action: "list" });
  }

  /** Enables or disables a rule in the running hub (kept across restarts). */
  setRule(rule: string, enabled: boolean): Promise<HubReply<RuleSummary>> {
    return this.request({ op: "rules", action: enabled ? "enable" : "disable", rule });
  }

  /** Applies a scene as the logged-in principal: which devices reached their target, which refused. */
  scene(scene: string): Promise<HubReply<SceneReport>> {
    return this.request({ op: "scene", scene });
  }

  /** Calls `listener` for every rule notification (needs a subscription); returns a stop function. */
  onNotification(listener: (note: HubNotification) => void): () => void {
    this.#notes.add(listener);
    return () => this.#notes.delete(listener);
  }

  /** Asks the hub to close the connection after answering everything sent before. */
  quit(): Promise<HubReply<{ bye: true }>> {
    return this.request({ op: "quit" });
  }

  /** Devices the hub's MQTT bridge discovered and nobody adopted yet (issue 11). */
  discovered(): Promise<HubReply<DiscoveredDevice[]>> {
    return this.request({ op: "discovered" });
  }

  /** Adopts a discovered device under `id`, in `room`, named `name` (type: the suggested one unless given). */
  adopt(
    device: { key: string; id: string; room: string; name: string; type?: string },
  ): Promise<HubReply<DeviceSnapshot>> {
    const { id, ...rest } = device;
    return this.request({ op: "adopt", device: id, ...rest });
  }

  /** Removes a device adopted at run time. */
  remove(device: string): Promise<HubReply<DeviceSnapshot>> {
    return this.request({ op: "remove", device });
  }

  /** Round trip. */
  ping(): Promise<HubReply<{ pong: true }>> {
    return this.request({ op: "ping" });
  }

  /** Calls `listener` for every pushed change; returns a function that stops it. */
  onEvent(listener: (event: HubEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends any JSON-form request (an id is added) and waits for its reply. */
  request<T = unknown>(body: Record<string, unknown>): Promise<HubReply<T>> {
    if (this.#closed) return Promise.resolve(disconnected(null));
    const id = this.#nextId++;
    const line = JSON.stringify({ ...body, id }) + "\n";
    return new Promise<HubReply<T>>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ id, ok: false, error: { code: "timeout", message: "No reply in time" } });
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve: resolve as (r: HubReply) => void, timer });
      this.#write(line).catch(() => this.#settleAll());
    });
  }

  /** Resolves when the hub closed the connection (or after `close`). */
  get closed(): Promise<void> {
    return this.#reading;
  }

  /** Closes the connection; pending requests answer `disconnected`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#settleAll();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#reading;
  }

  /**
   * Queues `text`; requests made in the same tick leave in one write, in order, so a client that
   * sends several requests at once pipelines them without extra round trips.
   */
  #write(text: string): Promise<void> {
    this.#outbox.push(text);
    if (this.#outbox.length === 1) {
      this.#writing = this.#writing.then(async () => {
        await Promise.resolve();
        const data = encoder.encode(this.#outbox.join(""));
        this.#outbox = [];
        let offset = 0;
        while (offset < data.length) offset += await this.#conn.write(data.subarray(offset));
      });
    }
    return this.#writing;
  }

  async #readLoop(): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        buffered += decoder.decode(chunk.subarray(0, n), { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) !== -1) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          this.#dispatch(line);
        }
      }
    } catch {
      // Closed by us or by the hub.
    }
    this.close();
  }

  #dispatch(line: string): void {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(line);
    } catch {
      return; // A text-form line (e.g. a limit error before any request): not ours.
    }
    if (data.event === "notification") {
      for (const listener of this.#notes) listener(data as unknown as HubNotification);
      return;
    }
    if (data.event === "state_changed") {
      for (const listener of this.#listeners) listener(data as unknown as HubEvent);
      return;
    }
    const id = typeof data.id === "number" ? data.id : null;
    const pending = id === null ? undefined : this.#pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending.delete(id!);
    pending.resolve(data as unknown as HubReply);
  }

  #settleAll(): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.resolve(disconnected(id));
    }
    this.#pending.clear();
  }
}

function disconnected(id: number | null): HubReply<never> {
  return { id, ok: false, error: { code: "disconnected", message: "Connection closed" } };
}
