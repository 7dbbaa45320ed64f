/**
 * `/api/ws`: one WebSocket for commands and events, in the spirit of Home
 * Assistant's WebSocket API. The hub sends `auth_required`; the client's
 * first message must be `{"type": "auth", "token": "<principal>:<token>"}`
 * (within `HTTP_WS_AUTH_TIMEOUT_MS`, 10 s by default); then every message carries an `id` (a positive integer,
 * larger than the previous one) and gets a `result` with that id:
 * `get_devices`, `command` (`device`, `action`, `value`), `subscribe_events`
 * (then `event` messages with the subscription's id), `unsubscribe_events`
 * (`subscription`), `ping`. Same grants, rates and command path as the rest
 * of the API. Output is bounded per connection: a client that does not read
 * is cut off (close code 1008), as slow TLS subscribers are.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import type { Json, Refusal } from "../../broker/messages.ts";
import { DEVICE_ID, listDevices, parseCommand } from "./api_devices.ts";
import { deviceView } from "./device_views.ts";
import type { EventRouteParts } from "./api_events.ts";
import type { HttpGate } from "./http_gate.ts";
import { type Caller, canSee, type HttpDeps, type HttpEnv, remoteText } from "./http_context.ts";

/** Unsent bytes a connection may hold before it is cut off. */
export const WS_MAX_BUFFERED = 256 * 1024;
/** Requests one connection may have in flight. */
export const WS_MAX_IN_FLIGHT = 16;
/** Messages a client may send before its authentication is answered. */
const MAX_EARLY_MESSAGES = 8;

/** Registers `/api/ws` on `app` (open: authentication is the first message). */
export function webSocketRoutes(
  app: Hono<HttpEnv>,
  deps: HttpDeps,
  gate: HttpGate,
  parts: EventRouteParts,
): void {
  app.get("/api/ws", (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return gate.refuse(
        c,
        null,
        { code: "malformed", message: "Expected a WebSocket upgrade" },
        "not_websocket",
      );
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(c.req.raw, { idleTimeout: 60 });
    } catch {
      return gate.refuse(c, null, {
        code: "malformed",
        message: "Not a valid WebSocket upgrade",
      }, "not_websocket");
    }
    // The request's connection slot stays taken while the socket is open.
    const release = c.env.keepSlot();
    new WsSession(upgraded.socket, c, deps, gate, parts, release);
    return upgraded.response;
  });
}

type Out = { readonly [key: string]: Json };

/** One WebSocket connection. */
class WsSession {
  readonly #socket: WebSocket;
  readonly #c: Context<HttpEnv>;
  readonly #deps: HttpDeps;
  readonly #gate: HttpGate;
  readonly #parts: EventRouteParts;
  readonly #subscriptions = new Map<number, () => void>();
  #caller: Caller | undefined;
  #early = 0;
  #queue: Promise<void> = Promise.resolve();
  #lastId = 0;
  #inFlight = 0;
  #closed = false;
  #cleanup: () => void;

  constructor(
    socket: WebSocket,
    c: Context<HttpEnv>,
    deps: HttpDeps,
    gate: HttpGate,
    parts: EventRouteParts,
    release: () => void,
  ) {
    this.#socket = socket;
    this.#c = c;
    this.#deps = deps;
    this.#gate = gate;
    this.#parts = parts;
    const deadline = setTimeout(() => {
      if (this.#caller || this.#closed) return;
      this.#refuse(
        null,
        { code: "unauthenticated", message: "Authenticate first" },
        "ws_auth_timeout",
      );
      this.#close(1008, "Authentication took too long");
    }, deps.limits.wsAuthTimeoutMs);
    const unregister = parts.streams.add(() => this.#close(1001, "Hub stopping"));
    this.#cleanup = () => {
      clearTimeout(deadline);
      unregister();
      for (const stop of this.#subscriptions.values()) stop();
      this.#subscriptions.clear();
      release();
    };
    socket.onopen = () => this.#send({ type: "auth_required", version: 1 });
    const failed = () => this.#close(1011, "Internal error");
    socket.onmessage = (event) => {
      if (this.#caller) return void this.#receive(event.data).catch(failed);
      // Before authentication messages are taken one at a time, in order (a few at most).
      if (++this.#early > MAX_EARLY_MESSAGES) return this.#close(1008, "Authenticate first");
      this.#queue = this.#queue.then(() => this.#receive(event.data)).catch(failed);
    };
    socket.onclose = () => this.#finish();
    socket.onerror = () => this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cleanup();
  }

  #close(code: number, reason: string): void {
    try {
      this.#socket.close(code, reason);
    } catch {
      // Already closing.
    }
    this.#finish();
  }

  #send(message: Out): void {
    if (this.#closed || this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(JSON.stringify(message));
    if (this.#socket.bufferedAmount > WS_MAX_BUFFERED) {
      this.#parts.onSlow();
      this.#close(1008, "Too slow: messages were not read");
    }
  }

  #result(
    id: number | null,
    outcome: { ok: true; value: Json } | { ok: false; error: Refusal },
  ): void {
    if (outcome.ok) this.#send({ id, type: "result", success: true, result: outcome.value });
    else {
      this.#send({
        id,
        type: "result",
        success: false,
        error: { code: outcome.error.code, message: outcome.error.message },
      });
    }
  }

  #refuse(id: number | null, error: Refusal, reason: string): void {
    const principal = this.#caller?.principal.id ?? null;
    this.#gate.refusals.refuse(
      { principal, channel: "http", address: remoteText(this.#c.env.remote) },
      {
        action: "http.refused",
        outcome: "rejected",
        code: error.code,
        detail: { reason, path: "/api/ws" },
      },
      this.#c.env.remote.hostname,
    );
    this.#result(id, { ok: false, error });
  }

  async #receive(data: unknown): Promise<void> {
    if (typeof data !== "string") return this.#close(1003, "Text messages only");
    if (data.length > this.#deps.limits.maxBodyBytes) return this.#close(1009, "Message too large");
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(data);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      message = parsed as Record<string, unknown>;
    } catch {
      return this.#refuse(
        null,
        { code: "malformed", message: "Messages are JSON objects" },
        "malformed_json",
      );
    }
    if (this.#closed) return;
    if (!this.#caller) return await this.#authenticate(message);
    const id = message.id;
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= this.#lastId) {
      return this.#refuse(null, {
        code: "malformed",
        message: "Every message needs an id larger than the previous one",
      }, "bad_id");
    }
    this.#lastId = id;
    if (!this.#gate.takePrincipal(this.#caller.principal.id)) {
      return this.#refuse(
        id,
        { code: "rate_limited", message: "Too many requests: slow down" },
        "rate_limited_principal",
      );
    }
    if (this.#inFlight >= WS_MAX_IN_FLIGHT) {
      return this.#refuse(id, {
        code: "busy",
        message: "Too many requests in flight on this connection",
      }, "in_flight");
    }
    this.#inFlight++;
    try {
      await this.#dispatch(id, message, this.#caller);
    } finally {
      this.#inFlight--;
    }
  }

  async #authenticate(message: Record<string, unknown>): Promise<void> {
    const match = message.type === "auth" && typeof message.token === "string"
      ? /^([a-z0-9][a-z0-9_-]{0,47}):(\S{1,512})$/.exec(message.token)
      : null;
    if (!match) {
      this.#send({
        type: "auth_invalid",
        message: 'Send {"type": "auth", "token": "<principal>:<token>"} first',
      });
      return this.#close(1008, "Authentication required");
    }
    const caller = await this.#gate.checkToken(this.#c, match[1]!, match[2]!);
    if (caller instanceof Response) {
      const body = await caller.json() as { error?: { message?: string } };
      this.#send({
        type: "auth_invalid",
        message: body.error?.message ?? "Wrong principal or token",
      });
      return this.#close(1008, "Authentication failed");
    }
    this.#caller = caller;
    this.#send({ type: "auth_ok", principal: caller.principal.id });
  }

  async #dispatch(id: number, message: Record<string, unknown>, caller: Caller): Promise<void> {
    switch (message.type) {
      case "ping":
        return this.#send({ id, type: "pong" });
      case "get_devices": {
        const devices = await listDevices(this.#deps, caller);
        return this.#result(
          id,
          devices.ok ? { ok: true, value: { devices: toJson(devices.value) } } : devices,
        );
      }
      case "command":
        return await this.#command(id, message, caller);
      case "subscribe_events":
        return this.#subscribe(id, caller);
      case "unsubscribe_events": {
        const stop = typeof message.subscription === "number"
          ? this.#subscriptions.get(message.subscription)
          : undefined;
        if (!stop) {
          return this.#refuse(
            id,
            { code: "not_found", message: "No such subscription" },
            "unknown_subscription",
          );
        }
        stop();
        this.#subscriptions.delete(message.subscription as number);
        return this.#result(id, { ok: true, value: null });
      }
      default:
        return this.#refuse(id, {
          code: "malformed",
          message:
            "Unknown type (get_devices, command, subscribe_events, unsubscribe_events, ping)",
        }, "unknown_type");
    }
  }

  async #command(id: number, message: Record<string, unknown>, caller: Caller): Promise<void> {
    const device = message.device;
    if (typeof device !== "string" || !DEVICE_ID.test(device)) {
      return this.#refuse(
        id,
        { code: "malformed", message: "device must be a device id" },
        "malformed_id",
      );
    }
    const body: Record<string, unknown> = { action: message.action };
    if (message.value !== undefined) body.value = message.value;
    const command = parseCommand(body);
    if (!command.ok) return this.#refuse(id, command.error, "malformed_command");
    const outcome = await this.#deps.commandPath.run(caller.source, "device.command", {
      device,
      action: command.value.action,
      args: command.value.args,
    }, { timeoutMs: this.#deps.askTimeoutMs, waitForRoom: true });
    if (!outcome.ok) return this.#result(id, outcome);
    const view = deviceView(this.#deps.home(), caller.principal, outcome.value);
    this.#result(id, { ok: true, value: { device: toJson(view) } });
  }

  #subscribe(id: number, caller: Caller): void {
    const stop = this.#parts.events.listen((event) => {
      const principal = this.#deps.home().principals.find((p) => p.id === caller.principal.id);
      if (principal === undefined || !canSee(principal, event.device)) return;
      this.#send({ id, type: "event", event: toJson(event) });
    });
    this.#subscriptions.set(id, stop);
    this.#result(id, { ok: true, value: null });
  }
}

/** Plain data as JSON (the views are JSON already; this only widens the type). */
function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}
