/**
 * Counts open connections in total and per key (usually the remote
 * address), and refuses one over either limit. Shared by every listener
 * that holds connections (TLS, FTP).
 *
 * @example
 * ```ts
 * const counter = new ConnectionCounter({ maxTotal: 1024, maxPerKey: 64 });
 * const slot = counter.acquire(remoteHost);
 * if (!slot.ok) return refuse(slot.reason);
 * try { await serve(conn); } finally { slot.release(); }
 * ```
 *
 * @module
 */

/** Options for {@linkcode ConnectionCounter}. */
export interface ConnectionCounterOptions {
  /** Most connections at once, all keys together. */
  readonly maxTotal: number;
  /** Most connections at once for one key. */
  readonly maxPerKey: number;
}

/** What {@linkcode ConnectionCounter.acquire} answers. */
export type ConnectionSlot =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly reason: "total" | "per_key"; readonly limit: number };

/** Open connections, in total and per key. */
export class ConnectionCounter {
  readonly #maxTotal: number;
  readonly #maxPerKey: number;
  readonly #perKey = new Map<string, number>();
  #total = 0;
  #refusedTotal = 0;
  #refusedPerKey = 0;

  /** @param options the two limits */
  constructor(options: ConnectionCounterOptions) {
    this.#maxTotal = options.maxTotal;
    this.#maxPerKey = options.maxPerKey;
  }

  /** Counts one more connection for `key`, or says which limit it would break. */
  acquire(key: string): ConnectionSlot {
    if (this.#total >= this.#maxTotal) {
      this.#refusedTotal++;
      return { ok: false, reason: "total", limit: this.#maxTotal };
    }
    const current = this.#perKey.get(key) ?? 0;
    if (current >= this.#maxPerKey) {
      this.#refusedPerKey++;
      return { ok: false, reason: "per_key", limit: this.#maxPerKey };
    }
    this.#perKey.set(key, current + 1);
    this.#total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#perKey.get(key) ?? 1) - 1;
        if (left <= 0) this.#perKey.delete(key);
        else this.#perKey.set(key, left);
      },
    };
  }

  /** Open connections now. */
  get total(): number {
    return this.#total;
  }

  /** Open connections of `key` now. */
  count(key: string): number {
    return this.#perKey.get(key) ?? 0;
  }

  /** Connections refused since creation, by the limit they hit. */
  get refused(): { readonly total: number; readonly perKey: number } {
    return { total: this.#refusedTotal, perKey: this.#refusedPerKey };
  }
}

/** The host part of a network address, as a counting key (`127.0.0.1`, `::1`). */
export function addressHost(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp" ? addr.hostname : addr.transport;
}

/** `host:port` of a network address, for logs and audit entries (IPv6 in brackets). */
export function addressText(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
