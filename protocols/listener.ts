/**
 * What every network listener looks like to the hub: a name, the port it
 * actually bound (tests bind port 0), counters, and an idempotent close that
 * stops accepting and ends its connections.
 *
 * @module
 */
import type { Home } from "../config/home.ts";

/** A running listener. */
export interface Listener {
  /** `tls`, `udp`, `ftp` or `http`. */
  readonly name: string;
  /** The bound address. */
  readonly hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** True while it accepts work. */
  readonly listening: boolean;
  /** Counters for /metrics, e.g. `{ connections: 3, commands_total: 120, "rejected_total{reason=\"busy\"}": 2 }`. */
  metrics(): Readonly<Record<string, number>>;
  /** Stops accepting, ends connections; idempotent. */
  close(): Promise<void>;
  /**
   * Optional (SIGHUP): takes new principals and certificate for what comes
   * next, without dropping existing connections. Resolves to why it could
   * not (the listener then keeps its previous settings), or undefined.
   */
  reload?(update: ListenerReload): Promise<string | undefined>;
}

/** What a reload hands to each listener (issue 6). */
export interface ListenerReload {
  /** The home file as just re-read and validated. */
  readonly home: Home;
  /** PEM certificate chain and key as just re-read. */
  readonly cert: string;
  readonly key: string;
}
