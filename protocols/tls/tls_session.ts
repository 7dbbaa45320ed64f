/**
 * One client connection of the TLS command channel, after its handshake:
 * reads lines (capped), answers each request in order (pipelined requests
 * run concurrently, their replies are written in request order), pushes
 * subscribed changes between whole lines, and closes on `quit`, on an
 * answered seed-style request, on end of stream, or when told to.
 *
 * Authentication happens here (`login`); authorisation is the device
 * actor's (every channel gets the same). Commands go through
 * {@linkcode executeCommand}, so a positive reply means the command is in
 * the audit log.
 *
 * @module
 */
import { runDiscoveryRequest } from "../discovery_requests.ts";
import type { Broker } from "../../broker/broker.ts";
import { createMessage } from "../../broker/envelope.ts";
import { refusalFor } from "../../broker/errors.ts";
import type {
  AutomationRulesPayload,
  DeviceSnapshot,
  ErrorCode,
  Message,
  Outcome,
  Refusal,
  RuleSummary,
  SceneReport,
  Source,
} from "../../broker/messages.ts";
import type { PrincipalDeclaration } from "../../config/home.ts";
import { type ParsedRequest, parseRequest, type Request } from "../command_parser.ts";
import { auditEvent, refusalEntry } from "../audit_events.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import type { RefusalAuditor } from "../refusal_audit.ts";
import { type FrameEvent, LineFramer } from "../line_framer.ts";
import type { RateLimiter } from "../rate_limit.ts";
import type { SessionConn } from "./node_tls_conn.ts";
import {
  errorLine,
  jsonEvent,
  jsonNotification,
  jsonOk,
  seedAcknowledgement,
  textCommandDone,
  textDevices,
  textEvent,
  textNotification,
  textRules,
  textScene,
  textStatus,
} from "../replies.ts";
import type { TlsCounters } from "./tls_counters.ts";
import { getLogger } from "../../observability/logger.ts";

const log = getLogger("tls");
import { PRE_LOGIN_KEEPALIVES } from "../pre_auth.ts";

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
/** How long a closing connection may take to receive its last lines. */
const CLOSE_GRACE_MS = 2000;

interface Answer {
  readonly line: string;
  readonly close: boolean;
}

interface Slot {
  answer: Answer | undefined;
}

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A connected, handshaken client. */
export class TlsSession {
  /** `host:port` of the client. */
  readonly address: string;
  /** Time of the last byte received (ms since epoch). */
  lastActivity = Date.now();
  readonly #conn: SessionConn;
  readonly #ctx: SessionContext;
  readonly #framer: LineFramer;
  readonly #host: string;
  #principal: PrincipalDeclaration | null;
  readonly #slots: Slot[] = [];
  #inFlight = 0;
  #roomWaiter: (() => void) | undefined;
  #out: string[] = [];
  #outBytes = 0;
  #writing = false;
  /** A flush is queued as a microtask (answers of one batch leave in one write). */
  #flushQueued = false;
  /** True while the requests of one read are being parsed and submitted. */
  #framing = false;
  #closing = false;
  /** Set once an answer that closes the connection was sent: later answers are dropped. */
  #answeredLast = false;
  /** The error line to send once every answer is out, when the hub closes the connection. */
  #farewell: Refusal | undefined;
  #closed = false;
  #sawTerminated = false;
  #failedLogins = 0;
  /** Settles when the login being checked is answered: later requests wait for it. */
  #pendingLogin: Promise<void> | undefined;
  /** Pings answered before login (at most PRE_LOGIN_KEEPALIVES). */
  #preLoginPings = 0;
  readonly #onLogin: (() => void) | undefined;
  /** Login checks running now (scrypt is asynchronous). */
  #loginsInFlight = 0;
  /** Set when the login deadline passed while a login check was running. */
  #deadlinePassed: string | undefined;
  #unterminatedTimer: ReturnType<typeof setTimeout> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #finished = Promise.withResolvers<void>();
  /** Devices this connection watches; `all` watches every device it may see. */
  readonly #watched = new Set<string>();
  #watchAll: ReadonlySet<string> | undefined;
  #pushJson = false;

  /**
   * @param conn a handshaken TLS connection; `host` its address without port
   * @param onLogin called after each good login (the listener's pre-login share lets it go)
   */
  constructor(
    conn: SessionConn,
    host: string,
    address: string,
    ctx: SessionContext,
    onLogin?: () => void,
  ) {
    this.#onLogin = onLogin;
    this.#conn = conn;
    this.#host = host;
    this.address = address;
    this.#ctx = ctx;
    this.#framer = new LineFramer({ maxLineBytes: ctx.maxLineBytes });
    this.#principal = ctx.defaultPrincipal;
  }

  /** The logged-in principal's id (the default principal's before login), or null. */
  get principalId(): string | null {
    return this.#principal?.id ?? null;
  }

  /** True when this connection watches at least one device. */
  get subscribed(): boolean {
    return this.#watchAll !== undefined || this.#watched.size > 0;
  }

  /** Serves the connection until it ends; never throws. */
  async run(): Promise<void> {
    await this.#readLoop();
    this.#beginClose();
    await this.#finished.promise;
  }

  /** Pushes a state change when this connection watches the device. */
  push(message: Message<"device.state_changed">): void {
    if (this.#closing) return;
    const { device, state, previous } = message.payload;
    const watched = this.#watchAll ? this.#watchAll.has(device) : this.#watched.has(device);
    if (!watched) return;
    this.#ctx.counters.pushes++;
    this.#emit(
      (this.#pushJson ? jsonEvent(device, state, previous, message.at) : textEvent(device, state)) +
        "\n",
    );
  }

  /** Pushes a rule's notification line (issue 13) when this connection watches any device. */
  notify(message: Message<"automation.notification">): void {
    if (this.#closing || !this.subscribed) return;
    const { rule, message: text } = message.payload;
    this.#ctx.counters.pushes++;
    this.#emit(
      (this.#pushJson ? jsonNotification(rule, text, message.at) : textNotification(rule, text)) +
        "\n",
    );
  }

  /**
   * Stops reading, answers the requests already received, then sends a last error line (when
   * given) and closes once it is written.
   */
  close(code?: ErrorCode, message?: string): void {
    if (this.#closing) return;
    if (code !== undefined && message !== undefined) this.#farewell = { code, message };
    this.#beginClose();
  }

  /**
   * The login deadline passed: closes the connection unless it logged in. A login already being
   * checked finishes first (its scrypt may be queued behind others): if it fails, the connection
   * closes then.
   */
  loginDeadlinePassed(message: string): void {
    if (this.#principal !== null) return;
    if (this.#loginsInFlight > 0) {
      this.#deadlinePassed = message;
      return;
    }
    this.close("timeout", message);
  }

  /** Closes at once, dropping unsent output. */
  abort(): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#closed = true;
    clearTimeout(this.#unterminatedTimer);
    clearTimeout(this.#graceTimer);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    this.#roomWaiter?.();
    this.#watched.clear();
    this.#watchAll = undefined;
    this.#finished.resolve();
  }

  async #readLoop(): Promise<void> {
    // No read buffer of its own: the connection hands over the bytes it received (16 KiB less per
    // idle connection).
    while (!this.#closing) {
      // Answers wait in order behind a slow one: bound them all, not only those being handled.
      if (this.#slots.length >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => (this.#roomWaiter = resolve));
        this.#roomWaiter = undefined;
        continue;
      }
      let chunk: Uint8Array | null;
      try {
        chunk = await this.#conn.readChunk();
      } catch {
        chunk = null;
      }
      if (this.#closing) return;
      if (chunk === null) {
        clearTimeout(this.#unterminatedTimer);
        const rest = this.#framer.flush();
        if (rest) this.#onFrame(rest);
        return;
      }
      this.lastActivity = Date.now();
      this.#ctx.counters.bytesIn += chunk.length;
      clearTimeout(this.#unterminatedTimer);
      this.#framing = true;
      try {
        for (const event of this.#framer.push(chunk)) {
          if (this.#closing) return;
          this.#onFrame(event);
        }
      } finally {
        this.#framing = false;
      }
      // Answers held while this chunk's requests were read leave together.
      if (this.#inFlight === 0 && this.#out.length > 0 && !this.#writing) this.#startWrite();
      if (!this.#sawTerminated && this.#framer.pendingBytes > 0) {
        // Seed clients send one command without a newline and wait: after an
        // idle gap the pending bytes count as that command.
        this.#unterminatedTimer = setTimeout(() => {
          if (this.#closing) return;
          const event = this.#framer.flush();
          if (event) this.#onFrame(event);
        }, this.#ctx.unterminatedMs);
      }
    }
  }

  #onFrame(event: FrameEvent): void {
    const counters = this.#ctx.counters;
    if (event.kind === "too_long") {
      counters.rejected("too_large");
      this.#submit({
        line: errorLine("text", null, {
          code: "too_large",
          message: `Line longer than ${event.limit} bytes: ignored`,
        }) + "\n",
        close: false,
      });
      return;
    }
    if (!event.unterminated) this.#sawTerminated = true;
    let text: string;
    try {
      text = utf8.decode(event.bytes);
    } catch {
      counters.rejected("malformed");
      this.#submit(this.#finish(event.unterminated, {
        line: errorLine("text", null, { code: "malformed", message: "Request is not valid UTF-8" }),
        close: false,
      }));
      return;
    }
    if (text.trim() === "") return;
    counters.requests++;
    const parsed = parseRequest(text);
    let answer: Answer | Promise<Answer>;
    try {
      answer = this.#answerInOrder(parsed, text, event.unterminated);
    } catch (error) {
      answer = Promise.reject(error);
    }
    this.#submit(
      answer instanceof Promise
        ? answer.then((a) => this.#finish(event.unterminated, a))
        : this.#finish(event.unterminated, answer),
      parsed.ok ? parsed.request.op : "unparsed",
    );
  }

  /**
   * Answers a request once the login before it (if any) is answered: a client may pipeline
   * `login` and its first command, and the command must see the login's result.
   */
  #answerInOrder(
    parsed: ParsedRequest,
    raw: string,
    unterminated: boolean,
  ): Answer | Promise<Answer> {
    const waiting = this.#pendingLogin;
    if (waiting !== undefined) {
      return waiting.then(() => this.#answerInOrder(parsed, raw, unterminated));
    }
    const answer = this.#answer(parsed, raw, unterminated);
    if (parsed.ok && parsed.request.op === "login" && answer instanceof Promise) {
      const settled = answer.then(() => {}, () => {});
      this.#pendingLogin = settled;
      void settled.then(() => {
        if (this.#pendingLogin === settled) this.#pendingLogin = undefined;
      });
    }
    return answer;
  }

  /** Adds the line terminator; a seed-style (unterminated) request gets none and closes. */
  #finish(unterminated: boolean, answer: Answer): Answer {
    return unterminated
      ? { line: answer.line, close: true }
      : { line: answer.line + "\n", close: answer.close };
  }

  #answer(
    parsed: ParsedRequest,
    raw: string,
    unterminated: boolean,
  ): Answer | Promise<Answer> {
    const { format, id } = parsed;
    const counters = this.#ctx.counters;
    const fail = (error: Refusal, close = false): Answer => {
      counters.rejected(error.code);
      return { line: errorLine(format, id, error), close };
    };
    if (!parsed.ok) return fail(parsed.error);
    const request = parsed.request;
    const ok = (text: string, result: unknown, close = false): Answer => ({
      line: format === "json" ? jsonOk(id, result) : text,
      close,
    });
    switch (request.op) {
      case "ping":
        // Before login a ping keeps nothing alive (the login deadline runs on), and only a few
        // are answered.
        if (this.#principal === null && ++this.#preLoginPings > PRE_LOGIN_KEEPALIVES) {
          counters.preLoginPingsRefused++;
          return fail({
            code: "unauthenticated",
            message: "Log in first: login <principal> <token>",
          });
        }
        return ok("pong", { pong: true });
      case "quit":
        return ok("Bye", { bye: true }, true);
      case "login":
        return this.#whileLoggingIn(this.#login(request, fail, ok));
    }
    const principal = this.#principal;
    const source: Source = {
      principal: principal?.id ?? null,
      channel: "tls",
      address: this.address,
    };
    const limiterKey = principal ? `p:${principal.id}` : `a:${this.#host}`;
    if (!this.#ctx.commandLimiter.take(limiterKey)) {
      const error: Refusal = {
        code: "rate_limited",
        message: `Too many requests: retry in ${
          this.#ctx.commandLimiter.retryAfterMs(limiterKey)
        } ms`,
      };
      if (request.op === "command") this.#auditRefused(source, request, error);
      return fail(error);
    }
    if (principal === null) {
      const error: Refusal = {
        code: "unauthenticated",
        message: "Log in first: login <principal> <token>",
      };
      if (request.op === "command") this.#auditRefused(source, request, error);
      return fail(error);
    }
    switch (request.op) {
      case "command":
        return this.#command(request, source, { raw, unterminated, format }, fail, ok);
      case "status":
        return this.#query(source, request.device).then((r) =>
          r.ok ? ok(textStatus(r.value[0]!), r.value[0]) : fail(r.error)
        );
      case "devices":
        return this.#query(source, null).then((r) =>
          r.ok ? ok(textDevices(r.value), r.value) : fail(r.error)
        );
      case "subscribe":
        return this.#subscribe(source, request.device, format === "json").then((r) =>
          r.ok ? ok(r.value.text, r.value.result) : fail(r.error)
        );
      case "discovered":
      case "adopt":
      case "remove":
        return runDiscoveryRequest(this.#ctx.commandPath, source, request, this.#ctx.askTimeoutMs)
          .then((r) => r.ok ? ok(r.text, r.result) : fail(r.error));
      case "unsubscribe":
        if (request.device === "*") {
          this.#watched.clear();
          this.#watchAll = undefined;
        } else this.#watched.delete(request.device);
        this.#ctx.onSubscriptions(this);
        return ok(
          request.device === "*"
            ? "Unsubscribed from every device"
            : `Unsubscribed from ${request.device}`,
          { unsubscribed: request.device },
        );
      case "rules":
        return this.#rules(
          request.action === "list"
            ? { action: "list" }
            : { action: request.action, rule: request.rule },
          source,
        ).then((r) => {
          if (!r.ok) return fail(r.error);
          if (request.action === "list") return ok(textRules(r.value), r.value);
          return ok(`Rule ${request.rule} ${request.action}d`, r.value[0]);
        });
      case "scene":
        return this.#scene(request.scene, source).then((r) =>
          r.ok ? ok(textScene(r.value), r.value) : fail(r.error)
        );
    }
  }

  /** Asks the automation actor for its rules (list, enable, disable): issue 13. */
  async #rules(
    payload: AutomationRulesPayload,
    source: Source,
  ): Promise<Outcome<readonly RuleSummary[]>> {
    const asked = await this.#ctx.broker.ask(createMessage("automation.rules", payload, source), {
      timeoutMs: this.#ctx.askTimeoutMs,
      waitForRoom: true,
    });
    return asked.ok ? asked.reply.payload : { ok: false, error: refusalFor(asked.failure) };
  }

  /** Asks the automation actor to apply a scene as this connection's principal. */
  async #scene(scene: string, source: Source): Promise<Outcome<SceneReport>> {
    const asked = await this.#ctx.broker.ask(createMessage("automation.scene", { scene }, source), {
      timeoutMs: this.#ctx.askTimeoutMs,
      waitForRoom: true,
    });
    return asked.ok ? asked.reply.payload : { ok: false, error: refusalFor(asked.failure) };
  }

  async #command(
    request: Extract<Request, { op: "command" }>,
    source: Source,
    input: { raw: string; unterminated: boolean; format: "text" | "json" },
    fail: (error: Refusal) => Answer,
    ok: (text: string, result: unknown) => Answer,
  ): Promise<Answer> {
    this.#ctx.counters.commands++;
    const outcome = await this.#ctx.commandPath.run(
      source,
      "device.command",
      { device: request.device, action: request.action, args: request.args },
      { timeoutMs: this.#ctx.askTimeoutMs, waitForRoom: true },
    );
    if (!outcome.ok) return fail(outcome.error);
    this.#ctx.counters.acknowledged++;
    // Requests from seed clients (no newline) get the seed's sentence, exactly.
    if (input.format === "text" && input.unterminated) {
      return ok(seedAcknowledgement(input.raw), null);
    }
    return ok(textCommandDone(input.raw.trim(), outcome.value), outcome.value);
  }

  async #login(
    request: Extract<Request, { op: "login" }>,
    fail: (error: Refusal, close?: boolean) => Answer,
    ok: (text: string, result: unknown) => Answer,
  ): Promise<Answer> {
    const ctx = this.#ctx;
    const source: Source = { principal: request.principal, channel: "tls", address: this.address };
    // Only failed logins spend the address's allowance: they are the ones that cost a full scrypt.
    if (ctx.loginLimiter.retryAfterMs(this.#host) > 0) {
      return fail({
        code: "rate_limited",
        message: `Too many login attempts from your address: retry in ${
          ctx.loginLimiter.retryAfterMs(this.#host)
        } ms`,
      });
    }
    const principal = ctx.principals.get(request.principal);
    // Verify even for unknown principals: the time taken does not reveal who exists.
    const checked = await ctx.verifier.check(request.principal, "token", request.token, this.#host);
    if (checked === "throttled") {
      return fail({
        code: "rate_limited",
        message: "Too many login attempts from your address or on the hub: retry in a second",
      });
    }
    if (checked !== "ok" || principal === undefined) {
      ctx.loginLimiter.take(this.#host);
      this.#failedLogins++;
      ctx.counters.loginFailures++;
      auditEvent(ctx.broker, source, {
        action: "auth.failed",
        outcome: "rejected",
        code: "unauthenticated",
        detail: { reason: "wrong principal or token" },
      });
      const close = this.#failedLogins >= MAX_LOGIN_FAILURES;
      return fail({
        code: "unauthenticated",
        message: close
          ? "Wrong principal or token: too many failures, closing"
          : "Wrong principal or token",
      }, close);
    }
    if (!principal.channels.includes("tls")) {
      auditEvent(ctx.broker, source, {
        action: "auth.failed",
        outcome: "rejected",
        code: "forbidden",
        detail: { reason: "channel tls not allowed" },
      });
      return fail({ code: "forbidden", message: `${principal.id} may not use the TLS channel` });
    }
    this.#principal = principal;
    this.#onLogin?.();
    ctx.counters.logins++;
    auditEvent(ctx.broker, source, { action: "auth.login", outcome: "ok" });
    return ok(`Logged in as ${principal.id}`, { principal: principal.id });
  }

  /** Counts a login check in flight; after it, honours a deadline that passed meanwhile. */
  #whileLoggingIn(login: Promise<Answer>): Promise<Answer> {
    this.#loginsInFlight++;
    return login.finally(() => {
      this.#loginsInFlight--;
      const passed = this.#deadlinePassed;
      if (passed !== undefined && this.#loginsInFlight === 0 && this.#principal === null) {
        this.close("timeout", passed);
      }
    });
  }

  async #query(
    source: Source,
    device: string | null,
  ): Promise<Outcome<readonly DeviceSnapshot[]>> {
    return await this.#ctx.commandPath.run(source, "device.query", { device }, {
      timeoutMs: this.#ctx.askTimeoutMs,
      waitForRoom: true,
    });
  }

  async #subscribe(
    source: Source,
    device: string,
    json: boolean,
  ): Promise<Outcome<{ text: string; result: unknown }>> {
    const all = device === "*";
    const visible = await this.#query(source, all ? null : device);
    if (!visible.ok) return visible;
    if (this.#closing) return { ok: false, error: { code: "internal", message: "Closing" } };
    this.#pushJson = json;
    if (all) this.#watchAll = new Set(visible.value.map((s) => s.id));
    else this.#watched.add(device);
    this.#ctx.onSubscriptions(this);
    return {
      ok: true,
      value: all
        ? {
          text: `Subscribed to every device (${visible.value.length})`,
          result: { subscribed: "*", devices: visible.value.map((s) => s.id) },
        }
        : { text: `Subscribed to ${device}`, result: { subscribed: device } },
    };
  }

  #auditRefused(
    source: Source,
    request: Extract<Request, { op: "command" }>,
    error: Refusal,
  ): void {
    // Within a budget one entry each; past it (a flood) counted into summaries.
    this.#ctx.refusals.refuse(
      source,
      refusalEntry(
        { device: request.device, action: request.action, args: request.args },
        error,
        "device.command",
        source,
      ),
      this.#host,
    );
  }

  #submit(answer: Answer | Promise<Answer>, op = "framing"): void {
    const slot: Slot = { answer: undefined };
    this.#slots.push(slot);
    this.#inFlight++;
    if (answer instanceof Promise) {
      answer.then(
        (a) => this.#complete(slot, a),
        (error: unknown) => {
          // A bug, not a refusal: the client gets a generic line, the log gets the error (never
          // the request line, which may hold a token).
          this.#ctx.counters.handlerErrors++;
          log.error("TLS request handler failed ({op} from {address}): {error}", {
            op,
            address: this.address,
            error,
          });
          this.#complete(slot, {
            line: errorLine("text", null, { code: "internal", message: "Internal error" }) + "\n",
            close: false,
          });
        },
      );
    } else this.#complete(slot, answer);
  }

  #complete(slot: Slot, answer: Answer): void {
    slot.answer = answer;
    this.#inFlight--;
    if (this.#closed) return;
    while (this.#slots.length > 0 && this.#slots[0]!.answer !== undefined) {
      const done = this.#slots.shift()!.answer!;
      // After an answer that closes (quit, a seed command) nothing more is sent. Any other close
      // (the client's end of stream, an idle or reload close) still delivers what was asked:
      // a command applied and audited is never left without its reply.
      if (this.#answeredLast) continue;
      this.#emit(done.line, true);
      if (done.close) {
        this.#answeredLast = true;
        this.#beginClose();
      }
    }
    this.#roomWaiter?.();
    this.#maybeFinish();
  }

  /**
   * Queues output and starts writing it. Answers (`hold`) ready while other
   * requests of this connection are still being handled wait until the
   * current microtasks ran (the device actor answers a whole batch at once),
   * up to {@linkcode COALESCE_BYTES}, so that a pipelining client gets one
   * TLS record per batch. No timer: with TCP_NODELAY a second small write
   * no longer waits for a delayed ACK, and a timer costs a wake-up.
   */
  #emit(text: string, hold = false): void {
    if (this.#closed) return;
    this.#out.push(text);
    this.#outBytes += text.length;
    if (this.#outBytes > MAX_PENDING_OUTPUT) {
      this.#ctx.counters.slowClients++;
      this.abort();
      return;
    }
    if (this.#writing) return;
    const othersPending = this.#framing || this.#inFlight > 0;
    if (hold && othersPending && this.#outBytes < COALESCE_BYTES && !this.#closing) {
      if (this.#flushQueued) return;
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        if (!this.#writing && this.#out.length > 0) void this.#writeLoop();
      });
      return;
    }
    this.#startWrite();
  }

  #startWrite(): void {
    void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const data = encoder.encode(this.#out.length === 1 ? this.#out[0]! : this.#out.join(""));
        this.#out = [];
        this.#outBytes = 0;
        let offset = 0;
        while (offset < data.length) offset += await this.#conn.write(data.subarray(offset));
        this.#ctx.counters.bytesOut += data.length;
      }
    } catch {
      this.abort();
    } finally {
      this.#writing = false;
    }
    this.#maybeFinish();
  }

  #beginClose(): void {
    if (this.#closing) {
      this.#maybeFinish();
      return;
    }
    this.#closing = true;
    clearTimeout(this.#unterminatedTimer);
    this.#watched.clear();
    this.#watchAll = undefined;
    this.#ctx.onSubscriptions(this);
    this.#graceTimer = setTimeout(() => this.abort(), CLOSE_GRACE_MS);
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (!this.#closing || this.#closed) return;
    if (this.#inFlight > 0 || this.#writing || this.#out.length > 0) return;
    const farewell = this.#farewell;
    if (farewell) {
      // Last, after every answer: the write's end calls this again, which then closes.
      this.#farewell = undefined;
      if (!this.#answeredLast) {
        this.#emit(errorLine("text", null, farewell) + "\n");
        return;
      }
    }
    this.abort();
  }
}
