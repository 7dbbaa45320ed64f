/**
 * The rules every connection-oriented channel applies before its client has
 * logged in, written once (the TLS command channel and the FTP control
 * channel use them; an HTTP API or MQTT bridge would too):
 *
 * - **A login deadline**, counted from the accept and never extended by what
 *   the client sends (keep-alives such as `ping` or `NOOP` included): when it
 *   passes, the connection is closed.
 * - **A pre-login share of the connection limit**: at most `maxPending`
 *   connections that have not logged in, and at most `maxPendingPerKey` from
 *   one address. When the share is full, a newcomer takes the slot of the
 *   oldest connection still waiting to log in (that one is closed), so
 *   clients that never log in cannot keep out one that does. A connection
 *   that logs in leaves the share: authenticated users always get a slot
 *   (`maxPending` must stay below the channel's total limit).
 * - **A keep-alive budget**: a few keep-alives before login are answered,
 *   more are refused.
 * - **No arguments in an audit entry of an unauthenticated line**
 *   (domain/untrusted_input.ts, shared with the device actor).
 *
 * @example
 * ```ts
 * const gate = new PreAuthGate({ maxPending: 128, maxPendingPerKey: 16, loginDeadlineMs: 10_000 });
 * const ticket = gate.admit(host, (why) => close(why));
 * if (!ticket.ok) return refuse(ticket.limit);
 * // ... on a good login: ticket.ticket.authenticated(); on close: ticket.ticket.release()
 * ```
 *
 * @module
 */
import { systemTimers, type Timers } from "../broker/envelope.ts";

/** Keep-alives (`ping`, `NOOP`) answered before login; more are refused. */
export const PRE_LOGIN_KEEPALIVES = 3;

/** Options for {@linkcode PreAuthGate}. */
export interface PreAuthGateOptions {
  /** Most connections waiting to log in, all addresses together. */
  readonly maxPending: number;
  /** Most connections waiting to log in from one address. */
  readonly maxPendingPerKey: number;
  /** Time from accept to login; past it the connection is closed. */
  readonly loginDeadlineMs: number;
  /** The clock deadlines run on; default {@linkcode systemTimers} (tests pass a test clock). */
  readonly timers?: Timers;
}

/** Why the gate closes a waiting connection. */
export type PreAuthEnd = "deadline" | "evicted";

/** One admitted connection's place in the pre-login share. */
export interface PreAuthTicket {
  /** The client logged in: it leaves the share and its deadline is cancelled. */
  authenticated(): void;
  /** The connection closed (idempotent). */
  release(): void;
}

/** What {@linkcode PreAuthGate.admit} answers. */
export type PreAuthAdmission =
  | { readonly ok: true; readonly ticket: PreAuthTicket }
  | { readonly ok: false; readonly limit: number };

interface Pending {
  readonly key: string;
  readonly end: (why: PreAuthEnd) => void;
  cancel: (() => void) | undefined;
}

/** The pre-login share, deadlines and counters of one listener. */
export class PreAuthGate {
  readonly #options: PreAuthGateOptions;
  readonly #timers: Timers;
  /** Waiting connections, oldest first (Map keeps insertion order). */
  readonly #pending = new Map<Pending, true>();
  readonly #perKey = new Map<string, number>();
  #deadlineClosed = 0;
  #evicted = 0;
  #refused = 0;

  /** @param options the share and the deadline */
  constructor(options: PreAuthGateOptions) {
    this.#options = options;
    this.#timers = options.timers ?? systemTimers;
  }

  /** The login deadline in ms (for the message a closed client reads). */
  get loginDeadlineMs(): number {
    return this.#options.loginDeadlineMs;
  }

  /**
   * Admits a new connection from `key` into the share, or refuses it when its address already
   * has its share. `end` is called (once) when the deadline passes or a newcomer evicts it.
   */
  admit(key: string, end: (why: PreAuthEnd) => void): PreAuthAdmission {
    const refused = this.check(key);
    if (!refused.ok) return refused;
    const fromKey = this.#perKey.get(key) ?? 0;
    if (this.#pending.size >= this.#options.maxPending) this.makeRoom();
    const entry: Pending = { key, end, cancel: undefined };
    entry.cancel = this.#timers.after(this.#options.loginDeadlineMs, () => {
      if (!this.#pending.has(entry)) return;
      this.#deadlineClosed++;
      this.#leave(entry);
      entry.end("deadline");
    });
    this.#pending.set(entry, true);
    this.#perKey.set(key, fromKey + 1);
    return {
      ok: true,
      ticket: { authenticated: () => this.#leave(entry), release: () => this.#leave(entry) },
    };
  }

  /**
   * Whether `key` may have one more connection waiting to log in (check this before
   * {@linkcode PreAuthGate.makeRoom}, so that an address over its share evicts nobody).
   */
  check(key: string): { readonly ok: true } | { readonly ok: false; readonly limit: number } {
    if ((this.#perKey.get(key) ?? 0) < this.#options.maxPendingPerKey) return { ok: true };
    this.#refused++;
    return { ok: false, limit: this.#options.maxPendingPerKey };
  }

  /**
   * Closes the oldest connection still waiting to log in (its `end` runs now, with `evicted`):
   * for a newcomer when the share, or the channel's whole limit, is full. False when none waits.
   */
  makeRoom(): boolean {
    const oldest = this.#pending.keys().next().value;
    if (!oldest) return false;
    this.#evicted++;
    this.#leave(oldest);
    oldest.end("evicted");
    return true;
  }

  /** Connections waiting to log in now. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Cancels every deadline (at close); the connections are closed by their listener. */
  close(): void {
    for (const entry of [...this.#pending.keys()]) this.#leave(entry);
  }

  /** Counters for `/metrics`, named the Prometheus way. */
  metrics(): Record<string, number> {
    return {
      prelogin_connections: this.#pending.size,
      prelogin_connections_limit: this.#options.maxPending,
      prelogin_deadline_closed_total: this.#deadlineClosed,
      prelogin_evicted_total: this.#evicted,
      prelogin_refused_total: this.#refused,
    };
  }

  #leave(entry: Pending): void {
    if (!this.#pending.delete(entry)) return;
    entry.cancel?.();
    const left = (this.#perKey.get(entry.key) ?? 1) - 1;
    if (left > 0) this.#perKey.set(entry.key, left);
    else this.#perKey.delete(entry.key);
  }
}

/** The message a client reads when the gate closes its connection. */
export function preAuthEndMessage(why: PreAuthEnd, deadlineMs: number): string {
  return why === "deadline"
    ? `No login within ${deadlineMs} ms: closing`
    : "Too many connections waiting to log in: closing the oldest";
}

/** The message for an address over its pre-login share. */
export function preAuthRefusalMessage(limit: number): string {
  return `Too many connections from your address waiting to log in (${limit}): log in or close one first`;
}

/**
 * A short, printable prefix of client input for a reply (never the whole of it): at most `max`
 * characters, control characters replaced.
 */
export function echoPrefix(text: string, max = 16): string {
  // deno-lint-ignore no-control-regex
  const clean = text.slice(0, max).replace(/[\x00-\x1f\x7f]/g, "?");
  return text.length > max ? `${clean}...` : clean;
}
