/**
 * What every network listener looks like to the hub: a name, the port it
 * actually bound (tests bind port 0), counters, and an idempotent close that
 * stops accepting and ends its connections.
 *
 * @module
 */

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
}
