/**
 * Page sessions without a server-side store: the cookie carries the
 * principal, an expiry and a random nonce, signed with HMAC-SHA256 under a
 * key derived from the hub's TLS private key, so a session survives a hub
 * restart (the page reconnects by itself) and costs no memory per login.
 * The CSRF token is an HMAC of the nonce, so it needs no storage either.
 * Logging out revokes the nonce until the session would have expired
 * (bounded, in memory: a revoked cookie copied before logout works again
 * after a restart, until its expiry; the browser's copy is cleared).
 *
 * @module
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../broker/envelope.ts";

/** The session cookie's name. */
export const SESSION_COOKIE = "hub_session";

/** Logouts remembered at once (each until its session would have expired). */
const MAX_REVOKED = 10_000;

/** A valid session. */
export interface Session {
  readonly principal: string;
  readonly nonce: string;
  /** Ms since the epoch. */
  readonly expiresAt: number;
  /** What state-changing requests must send in `X-CSRF-Token`. */
  readonly csrf: string;
}

/** Why a cookie is not a session. */
export type SessionProblem = "invalid" | "expired" | "revoked";

/** Issues and checks session cookies. */
export class SessionCodec {
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  /** Revoked nonces and when their session would have expired (oldest first). */
  readonly #revoked = new Map<string, number>();

  /**
   * @param secret key material (the TLS private key's PEM); only its hash is kept
   * @param options session lifetime and clock
   */
  constructor(secret: string, options: { ttlSeconds: number; clock: Clock }) {
    this.#key = createHash("sha256").update("hub-session\n").update(secret).digest();
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#clock = options.clock;
  }

  /** Session lifetime in seconds (the cookie's Max-Age). */
  get ttlSeconds(): number {
    return Math.round(this.#ttlMs / 1000);
  }

  /** A new session for `principal` and its cookie value. */
  issue(principal: string): { session: Session; cookie: string } {
    const nonce = randomBytes(18).toString("base64url");
    const expiresAt = this.#clock.now() + this.#ttlMs;
    const body = `${principal}.${expiresAt}.${nonce}`;
    const cookie = `${body}.${this.#sign("cookie", body)}`;
    return { session: { principal, nonce, expiresAt, csrf: this.#csrf(nonce) }, cookie };
  }

  /** The session a cookie value stands for, or why not. */
  check(cookie: string): { ok: true; session: Session } | { ok: false; problem: SessionProblem } {
    const parts = cookie.split(".");
    if (parts.length !== 4) return { ok: false, problem: "invalid" };
    const [principal, expires, nonce, mac] = parts as [string, string, string, string];
    const expected = Buffer.from(this.#sign("cookie", `${principal}.${expires}.${nonce}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, problem: "invalid" };
    }
    const expiresAt = Number(expires);
    if (!(expiresAt > this.#clock.now())) return { ok: false, problem: "expired" };
    if (this.#revoked.has(nonce)) return { ok: false, problem: "revoked" };
    return { ok: true, session: { principal, nonce, expiresAt, csrf: this.#csrf(nonce) } };
  }

  /** True when `token` is the CSRF token of `session` (constant time). */
  csrfMatches(session: Session, token: string | null): boolean {
    if (token === null) return false;
    const a = Buffer.from(session.csrf);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Ends a session (logout). */
  revoke(session: Session): void {
    const now = this.#clock.now();
    // Forget revocations whose sessions expired anyway; past the bound, the oldest.
    for (const [nonce, expiresAt] of this.#revoked) {
      if (expiresAt > now && this.#revoked.size < MAX_REVOKED) break;
      this.#revoked.delete(nonce);
    }
    this.#revoked.set(session.nonce, session.expiresAt);
  }

  #csrf(nonce: string): string {
    return this.#sign("csrf", nonce);
  }

  #sign(purpose: string, text: string): string {
    return createHmac("sha256", this.#key).update(`${purpose}\n${text}`).digest("base64url");
  }
}

/** The `Set-Cookie` value for a session (`Secure` over HTTPS). */
export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${
    secure ? "; Secure" : ""
  }`;
}

/** The `Set-Cookie` value that clears the session cookie. */
export function clearedCookie(secure: boolean): string {
  return sessionCookie("", 0, secure);
}

/** The session cookie's value in a `Cookie` header, if any. */
export function readSessionCookie(header: string | null): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}
