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
import { generateSecret, hashSecret, hashSecretAsync, verifySecretAsync } from "./secrets.ts";
import { DEFAULT_HASH_QUEUE, HashQueue } from "./hash_queue.ts";

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
 * Hashing runs off the event loop, so a reload does not stall the hub.
 */
export async function provisionCredentials(
  db: DatabaseSync,
  home: Home,
  seedUser: SeedFtpUser,
): Promise<GeneratedCredential[]> {
  ensureCredentialSchema(db);
  const generated: GeneratedCredential[] = [];
  const has = db.prepare("SELECT 1 FROM credentials WHERE principal = ? AND kind = ?");
  const insert = db.prepare(
    "INSERT OR REPLACE INTO credentials (principal, kind, value, created_at) VALUES (?, ?, ?, ?)",
  );
  const now = new Date().toISOString();
  const needed: { principal: string; kind: CredentialKind }[] = [];
  for (const principal of home.principals) {
    // A token opens TLS and the HTTP API (and page) alike.
    if (principal.channels.includes("tls") || principal.channels.includes("http")) {
      needed.push({ principal: principal.id, kind: "token" });
    }
    if (principal.channels.includes("udp")) {
      needed.push({ principal: principal.id, kind: "udp_key" });
    }
    if (principal.channels.includes("ftp")) {
      needed.push({ principal: principal.id, kind: "password" });
    }
  }
  // FTP_PASSWORD, while set, is checked instead of the stored password (the verifier's
  // `overrides`) and never written over it: removing it brings the stored one back.
  if (seedUser.password === undefined) {
    needed.push({ principal: seedUser.username, kind: "password" });
  }
  for (const { principal, kind } of needed) {
    if (has.get(principal, kind)) continue;
    if (kind === "udp_key") {
      const key = randomBytes(32).toString("hex");
      insert.run(principal, kind, key, now);
      generated.push({ principal, kind, secret: key });
    } else {
      const secret = generateSecret();
      insert.run(principal, kind, await hashSecretAsync(secret), now);
      generated.push({ principal, kind, secret });
    }
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

/** Options of {@linkcode CredentialVerifier}. */
export interface CredentialVerifierOptions {
  /** The bound on concurrent hash work (shared by every channel); defaults to the hub's. */
  readonly hashQueue?: HashQueue;
  /**
   * Passwords checked instead of the stored ones, by principal (FTP_PASSWORD for the seed
   * user): hashed once here, kept in memory only.
   */
  readonly overrides?: Readonly<Record<string, string>>;
}

/**
 * Checks secrets against the stored hashes. scrypt is slow on purpose, so a
 * secret verified once is remembered as an HMAC under a key that lives only
 * in this process; later checks of the same secret cost one HMAC. Wrong
 * secrets are never cached and always pay the full scrypt, which runs off
 * the event loop within the bounds of a {@linkcode HashQueue}.
 */
export class CredentialVerifier {
  readonly #db: DatabaseSync;
  readonly #cacheKey = randomBytes(32);
  readonly #verified = new Map<string, Buffer>();
  readonly #queue: HashQueue;
  /** Full checks in flight by (kind, principal, secret digest); cleared by clearCache. */
  readonly #checking = new Map<string, Promise<CheckResult>>();
  /** Bumped by clearCache. */
  #generation = 0;
  #selectSecret: StatementSync | undefined;
  readonly #overrides = new Map<string, string>();

  /** @param db the hub database (credentials table) */
  constructor(db: DatabaseSync, options: CredentialVerifierOptions = {}) {
    this.#db = db;
    this.#queue = options.hashQueue ?? new HashQueue(DEFAULT_HASH_QUEUE);
    ensureCredentialSchema(db);
    for (const [principal, password] of Object.entries(options.overrides ?? {})) {
      this.#overrides.set(principal, hashSecret(password));
    }
  }

  /** True when `secret` is `principal`'s current credential of `kind`. */
  async verify(principal: string, kind: "token" | "password", secret: string): Promise<boolean> {
    return (await this.check(principal, kind, secret)) === "ok";
  }

  /**
   * Checks a secret: `ok`, `wrong`, or `throttled` when the hash work of `source` (the client's
   * address) or of the whole hub is at its bound. A secret verified before is answered from the
   * cache at once whatever the load; a full check runs scrypt on a worker thread, so the event
   * loop every listener and actor share keeps turning.
   *
   * @param source who asks (an address): hash work is shared fairly between sources
   */
  check(
    principal: string,
    kind: "token" | "password",
    secret: string,
    source = "local",
  ): Promise<CheckResult> {
    const slot = `${kind}\u0000${principal}`;
    const stored = this.#storedHash(principal, kind);
    // Keyed by the stored hash too: a secret replaced with `cli credentials set` stops working
    // at once on a running hub, without a SIGHUP.
    const digest = createHmac("sha256", this.#cacheKey).update(secret).update("\u0000")
      .update(stored ?? "").digest();
    const cached = this.#verified.get(slot);
    if (stored !== undefined && cached && timingSafeEqual(cached, digest)) {
      return Promise.resolve("ok");
    }
    // The same secret already being checked (many connections logging in at once) shares that
    // check instead of taking more of the hash work.
    const sameKey = slot + "\u0000" + digest.toString("hex");
    const same = this.#checking.get(sameKey);
    if (same) return same;
    const generation = this.#generation;
    const checking = this.#fullCheck(stored, secret, source).then((result) => {
      // A check that began before a reload (clearCache) must not refill the cache.
      if (result === "ok" && generation === this.#generation) this.#verified.set(slot, digest);
      return result;
    }).finally(() => {
      if (this.#checking.get(sameKey) === checking) this.#checking.delete(sameKey);
    });
    this.#checking.set(sameKey, checking);
    return checking;
  }

  /** The hash a secret is checked against: an override, else the stored one. */
  #storedHash(principal: string, kind: "token" | "password"): string | undefined {
    const override = kind === "password" ? this.#overrides.get(principal) : undefined;
    if (override !== undefined) return override;
    this.#selectSecret ??= this.#db.prepare(
      "SELECT value FROM credentials WHERE principal = ? AND kind = ?",
    );
    const row = this.#selectSecret.get(principal, kind) as { value: string } | undefined;
    return row?.value;
  }

  async #fullCheck(
    stored: string | undefined,
    secret: string,
    source: string,
  ): Promise<CheckResult> {
    const row = stored === undefined ? undefined : { value: stored };
    const matched = await this.#queue.run(source, async () => {
      // Unknown principals cost the same as a real check: timing does not reveal who exists.
      const good = await verifySecretAsync(secret, row?.value ?? await dummyHash());
      return good && row !== undefined;
    });
    if (matched === HashQueue.THROTTLED) return "throttled";
    return matched ? "ok" : "wrong";
  }

  /** Hash work running and waiting now (for /metrics and tests). */
  get hashLoad(): { readonly running: number; readonly waiting: number; readonly refused: number } {
    return {
      running: this.#queue.running,
      waiting: this.#queue.waiting,
      refused: this.#queue.refused,
    };
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
    this.#checking.clear();
    this.#generation++;
  }
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  dummy ??= hashSecretAsync(generateSecret());
  return dummy;
}
