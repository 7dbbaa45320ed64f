/**
 * One client connection of the TLS command channel, after its handshake:
 * reads lines (capped), answers each request in order (pipelined requests
 * run concurrently, their replies are written in request order), pushes
 * subscribed changes between whole lines, and closes on `quit`, on an
 * answered seed-style request, on end of stream, or when told to.
 *
 * Authentication happens here (`login`, tls_login.ts); authorisation is the
 * device actor's (every channel gets the same). Requests are answered by
 * tls_requests.ts; output is queued by tls_output.ts. Its timers (the
 * unterminated-line grace, the closing grace) and its idle clock run on the
 * context's injectable `Timers`.
 *
 * @module
 */
import type { ErrorCode, Message, Refusal } from "../../broker/messages.ts";
import type { PrincipalDeclaration } from "../../config/home.ts";
import { type ParsedRequest, parseRequest } from "../command_parser.ts";
import { type FrameEvent, LineFramer } from "../line_framer.ts";
import type { SessionConn } from "./node_tls_conn.ts";
import { errorLine, jsonEvent, jsonNotification, textEvent, textNotification } from "../replies.ts";
import { getLogger } from "../../observability/logger.ts";
import { PRE_LOGIN_KEEPALIVES } from "../pre_auth.ts";
import { type Answer, MAX_IN_FLIGHT, type SessionContext } from "./tls_session_context.ts";
import { SessionLogins } from "./tls_login.ts";
import { answerRequest, type RequestScope } from "./tls_requests.ts";
import { TlsSubscriptions } from "./tls_subscriptions.ts";
import { TlsOutput } from "./tls_output.ts";

export {
  COALESCE_BYTES,
  MAX_IN_FLIGHT,
  MAX_LOGIN_FAILURES,
  MAX_PENDING_OUTPUT,
  type SessionContext,
  type TokenVerifier,
} from "./tls_session_context.ts";

const log = getLogger("tls");

/** How long a closing connection may take to receive its last lines. */
const CLOSE_GRACE_MS = 2000;

interface Slot {
  answer: Answer | undefined;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A connected, handshaken client. */
export class TlsSession {
  /** `host:port` of the client. */
  readonly address: string;
  /** Time of the last byte received (ms on the context's `Timers` clock). */
  lastActivity: number;
  readonly #conn: SessionConn;
  readonly #ctx: SessionContext;
  readonly #framer: LineFramer;
  #principal: PrincipalDeclaration | null;
  readonly #slots: Slot[] = [];
  #inFlight = 0;
  #roomWaiter: (() => void) | undefined;
  readonly #output: TlsOutput;
  readonly #scope: RequestScope;
  /** True while the requests of one read are being parsed and submitted. */
  #framing = false;
  #closing = false;
  /** Set once an answer that closes the connection was sent: later answers are dropped. */
  #answeredLast = false;
  /** The error line to send once every answer is out, when the hub closes the connection. */
  #farewell: Refusal | undefined;
  #closed = false;
  #sawTerminated = false;
  readonly #logins: SessionLogins;
  /** Pings answered before login (at most PRE_LOGIN_KEEPALIVES). */
  #preLoginPings = 0;
  #cancelUnterminated: (() => void) | undefined;
  #cancelGrace: (() => void) | undefined;
  readonly #finished = Promise.withResolvers<void>();
  /** Devices this connection watches. */
  readonly #subscriptions = new TlsSubscriptions();

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
    this.#conn = conn;
    this.address = address;
    this.#ctx = ctx;
    this.#framer = new LineFramer({ maxLineBytes: ctx.maxLineBytes });
    this.#principal = ctx.defaultPrincipal;
    this.lastActivity = ctx.timers.now();
    this.#output = new TlsOutput({
      conn,
      counters: ctx.counters,
      closed: () => this.#closed,
      closing: () => this.#closing,
      othersPending: () => this.#framing || this.#inFlight > 0,
      abort: () => this.abort(),
      drained: () => this.#maybeFinish(),
    });
    this.#logins = new SessionLogins(ctx, host, address, {
      loggedIn: () => this.#principal !== null,
      succeeded: (principal) => {
        this.#principal = principal;
        onLogin?.();
      },
      closeLate: (message) => this.close("timeout", message),
    });
    this.#scope = {
      ctx,
      host,
      address,
      subscriptions: this.#subscriptions,
      principal: () => this.#principal,
      pingRefused: () => this.#principal === null && ++this.#preLoginPings > PRE_LOGIN_KEEPALIVES,
      login: (request, reply) => this.#logins.answer(request, reply),
      closing: () => this.#closing,
      subscriptionsChanged: () => ctx.onSubscriptions(this),
    };
  }

  /** The logged-in principal's id (the default principal's before login), or null. */
  get principalId(): string | null {
    return this.#principal?.id ?? null;
  }

  /** True when this connection watches at least one device. */
  get subscribed(): boolean {
    return this.#subscriptions.any;
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
    if (!this.#subscriptions.watches(device)) return;
    this.#ctx.counters.pushes++;
    this.#output.emit(
      (this.#subscriptions.json
        ? jsonEvent(device, state, previous, message.at)
        : textEvent(device, state)) +
        "\n",
    );
  }

  /** Pushes a rule's notification line (issue 13) when this connection watches any device. */
  notify(message: Message<"automation.notification">): void {
    if (this.#closing || !this.subscribed) return;
    const { rule, message: text } = message.payload;
    this.#ctx.counters.pushes++;
    this.#output.emit(
      (this.#subscriptions.json
        ? jsonNotification(rule, text, message.at)
        : textNotification(rule, text)) +
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
    if (this.#principal !== null || this.#logins.deferDeadline(message)) return;
    this.close("timeout", message);
  }

  /** Closes at once, dropping unsent output. */
  abort(): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#closed = true;
    this.#cancelUnterminated?.();
    this.#cancelGrace?.();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    this.#roomWaiter?.();
    this.#subscriptions.clear();
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
        this.#cancelUnterminated?.();
        const rest = this.#framer.flush();
        if (rest) this.#onFrame(rest);
        return;
      }
      this.lastActivity = this.#ctx.timers.now();
      this.#ctx.counters.bytesIn += chunk.length;
      this.#cancelUnterminated?.();
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
      if (this.#inFlight === 0) this.#output.flush();
      if (!this.#sawTerminated && this.#framer.pendingBytes > 0) {
        // Seed clients send one command without a newline and wait: after an
        // idle gap the pending bytes count as that command.
        this.#cancelUnterminated = this.#ctx.timers.after(this.#ctx.unterminatedMs, () => {
          if (this.#closing) return;
          const event = this.#framer.flush();
          if (event) this.#onFrame(event);
        });
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
    const waiting = this.#logins.pending;
    if (waiting !== undefined) {
      return waiting.then(() => this.#answerInOrder(parsed, raw, unterminated));
    }
    return answerRequest(this.#scope, parsed, raw, unterminated);
  }

  /** Adds the line terminator; a seed-style (unterminated) request gets none and closes. */
  #finish(unterminated: boolean, answer: Answer): Answer {
    return unterminated
      ? { line: answer.line, close: true }
      : { line: answer.line + "\n", close: answer.close };
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
      this.#output.emit(done.line, true);
      if (done.close) {
        this.#answeredLast = true;
        this.#beginClose();
      }
    }
    this.#roomWaiter?.();
    this.#maybeFinish();
  }

  #beginClose(): void {
    if (this.#closing) {
      this.#maybeFinish();
      return;
    }
    this.#closing = true;
    this.#cancelUnterminated?.();
    this.#subscriptions.clear();
    this.#ctx.onSubscriptions(this);
    this.#cancelGrace = this.#ctx.timers.after(CLOSE_GRACE_MS, () => this.abort());
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (!this.#closing || this.#closed) return;
    if (this.#inFlight > 0 || !this.#output.idle) return;
    const farewell = this.#farewell;
    if (farewell) {
      // Last, after every answer: the write's end calls this again, which then closes.
      this.#farewell = undefined;
      if (!this.#answeredLast) {
        this.#output.emit(errorLine("text", null, farewell) + "\n");
        return;
      }
    }
    this.abort();
  }
}
