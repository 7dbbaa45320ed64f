/**
 * Credentials of every principal, in the database: token and password
 * hashes (scrypt), and UDP signing keys (which HMAC needs in the clear, so
 * the database file is kept private to the hub's user).
 *
 * Where a principal has no credential yet, the first start generates one,
 * returns it once for printing, and stores only its hash.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Home } from "../config/home.ts";
import { generateSecret, hashSecret, verifySecret } from "./secrets.ts";

/** The kinds of credential a principal can have. */
export type CredentialKind = "token" | "password" | "udp_key";

/** A credential made at this start, to be shown to the user once. */
export interface GeneratedCredential {
  readonly principal: string;
  readonly kind: CredentialKind;
  readonly secret: string;
}

/** Creates the credentials table when missing. */
export function ensureCredentialSchema(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS credentials (
    principal TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('token', 'password', 'udp_key')),
    value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, kind)
  ) STRICT`);
}

/** What the seed FTP user is called and, when configured, its password. */
export interface SeedFtpUser {
  readonly username: string;
  readonly password: string | undefined;
}

/**
 * Makes sure every principal has the credentials its channels need:
 * `tls` a token, `udp` a signing key, `ftp` a password. Returns the ones
 * generated now (shown once, never stored in the clear except UDP keys).
 */
export function provisionCredentials(
  db: DatabaseSync,
  home: Home,
  seedUser: SeedFtpUser,
): GeneratedCredential[] {
  ensureCredentialSchema(db);
  const generated: GeneratedCredential[] = [];
  const has = db.prepare("SELECT 1 FROM credentials WHERE principal = ? AND kind = ?");
  const insert = db.prepare(
    "INSERT OR REPLACE INTO credentials (principal, kind, value, created_at) VALUES (?, ?, ?, ?)",
  );
  const now = new Date().toISOString();
  const need = (principal: string, kind: CredentialKind) => {
    if (has.get(principal, kind)) return;
    if (kind === "udp_key") {
      const key = randomBytes(32).toString("hex");
      insert.run(principal, kind, key, now);
      generated.push({ principal, kind, secret: key });
    } else {
      const secret = generateSecret();
      insert.run(principal, kind, hashSecret(secret), now);
      generated.push({ principal, kind, secret });
    }
  };
  for (const principal of home.principals) {
    const tokenChannel = principal.channels.includes("tls") || principal.channels.includes("http");
    if (tokenChannel) need(principal.id, "token");
    if (principal.channels.includes("udp")) need(principal.id, "udp_key");
    if (principal.channels.includes("ftp")) need(principal.id, "password");
  }
  if (seedUser.password !== undefined) {
    const row = db.prepare(
      "SELECT value FROM credentials WHERE principal = ? AND kind = 'password'",
    )
      .get(seedUser.username) as { value: string } | undefined;
    if (!row || !verifySecret(seedUser.password, row.value)) {
      insert.run(seedUser.username, "password", hashSecret(seedUser.password), now);
    }
  } else {
    need(seedUser.username, "password");
  }
  return generated;
}

/** Sets a credential explicitly (tests, `deno task cli -- credentials set`). */
export function setCredential(
  db: DatabaseSync,
  principal: string,
  kind: CredentialKind,
  secret: string,
): void {
  ensureCredentialSchema(db);
  const value = kind === "udp_key" ? secret : hashSecret(secret);
  db.prepare(
    "INSERT OR REPLACE INTO credentials (principal, kind, value, created_at) VALUES (?, ?, ?, ?)",
  )
    .run(principal, kind, value, new Date().toISOString());
}

/** What {@linkcode CredentialVerifier.check} answers. */
export type CheckResult = "ok" | "wrong" | "throttled";

/** Full (scrypt, about 30 ms each here) checks the whole hub runs per second at most, and its burst. */
const FULL_CHECKS_PER_SECOND = 5;
const FULL_CHECK_BURST = 10;

/**
 * Checks secrets against the stored hashes. scrypt is slow on purpose, so a
 * secret verified once is remembered as an HMAC under a key that lives only
 * in this process; later checks of the same secret cost one HMAC. Wrong
 * secrets are never cached and always pay the full scrypt.
 */
export class CredentialVerifier {
  readonly #db: DatabaseSync;
  readonly #cacheKey = randomBytes(32);
  readonly #verified = new Map<string, Buffer>();
  #selectSecret: StatementSync | undefined;
  #fullChecks = FULL_CHECK_BURST;
  #fullChecksAt = performance.now();

  /** @param db the hub database (credentials table) */
  constructor(db: DatabaseSync) {
    this.#db = db;
    ensureCredentialSchema(db);
  }

  /** True when `secret` is `principal`'s current credential of `kind`. */
  verify(principal: string, kind: "token" | "password", secret: string): boolean {
    return this.check(principal, kind, secret) === "ok";
  }

  /**
   * Checks a secret: `ok`, `wrong`, or `throttled` when the hub-wide allowance of full (scrypt)
   * checks is spent. A full check takes tens of milliseconds of the one thread every listener
   * and actor share, so wrong secrets from many addresses must not stall the hub; a secret
   * verified before is answered from the cache whatever the allowance.
   */
  check(principal: string, kind: "token" | "password", secret: string): CheckResult {
    const slot = `${kind}\u0000${principal}`;
    const digest = createHmac("sha256", this.#cacheKey).update(secret).digest();
    const cached = this.#verified.get(slot);
    if (cached && timingSafeEqual(cached, digest)) return "ok";
    if (!this.#takeFullCheck()) return "throttled";
    this.#selectSecret ??= this.#db.prepare(
      "SELECT value FROM credentials WHERE principal = ? AND kind = ?",
    );
    const row = this.#selectSecret.get(principal, kind) as { value: string } | undefined;
    if (!row) {
      // Spend the same time as a real check so that timing does not reveal who exists.
      verifySecret(secret, dummyHash());
      return "wrong";
    }
    if (!verifySecret(secret, row.value)) return "wrong";
    this.#verified.set(slot, digest);
    return "ok";
  }

  /** Takes one full check from the hub-wide allowance (a token bucket). */
  #takeFullCheck(): boolean {
    const now = performance.now();
    this.#fullChecks = Math.min(
      FULL_CHECK_BURST,
      this.#fullChecks + ((now - this.#fullChecksAt) / 1000) * FULL_CHECKS_PER_SECOND,
    );
    this.#fullChecksAt = now;
    if (this.#fullChecks < 1) return false;
    this.#fullChecks--;
    return true;
  }

  /** The UDP signing key of `principal`, or undefined. */
  udpKey(principal: string): Uint8Array | undefined {
    const row = this.#db.prepare(
      "SELECT value FROM credentials WHERE principal = ? AND kind = 'udp_key'",
    )
      .get(principal) as { value: string } | undefined;
    return row ? Uint8Array.from(Buffer.from(row.value, "hex")) : undefined;
  }

  /** Forgets verified secrets (after a reload of principals or credentials). */
  clearCache(): void {
    this.#verified.clear();
  }
}

let dummy: string | undefined;
function dummyHash(): string {
  dummy ??= hashSecret(generateSecret());
  return dummy;
}
