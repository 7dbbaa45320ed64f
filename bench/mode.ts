/**
 * The size of a benchmark run: quick (development and CI, the whole run
 * under two minutes) or full (under ten minutes).
 *
 * @module
 */

/** One FTP upload shape: `files` files of `bytes` each. */
export interface UploadShape {
  readonly name: string;
  readonly files: number;
  readonly bytes: number;
}

/** Every bound of a run. */
export interface BenchMode {
  readonly name: "quick" | "full";
  /** Longest time of one request/reply load (TLS, UDP). */
  readonly seconds: number;
  /** Most requests of one load. */
  readonly maxRequests: number;
  /** Requests in flight per persistent connection (TLS, UDP). */
  readonly depth: number;
  /** Audit appends per figure. */
  readonly auditAppends: number;
  readonly auditSeconds: number;
  /** Idle authenticated TLS connections held for the memory figure. */
  readonly idleConnections: number;
  /**
   * Most connections one connect-per-command run opens. Deno keeps a closed TLS socket's file
   * descriptor for a few seconds, so an unbounded loop at ~1 500 connections/s exhausts them.
   */
  readonly maxFreshConnections: number;
  readonly uploads: readonly UploadShape[];
  /** How long after a load ends the hub's memory is read again (the issue asks 30 s). */
  readonly settleSeconds: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;

/** Quick: a few seconds per load, smaller uploads. */
export const QUICK: BenchMode = {
  name: "quick",
  seconds: 2,
  maxRequests: 50_000,
  depth: 16,
  auditAppends: 4_000,
  auditSeconds: 2,
  idleConnections: 1_000,
  maxFreshConnections: 2_000,
  uploads: [
    { name: "1MiB", files: 16, bytes: MIB },
    { name: "16MiB", files: 8, bytes: 16 * MIB },
    { name: "4KiB", files: 100, bytes: 4 * KIB },
  ],
  settleSeconds: 5,
};

/** Full: the shapes (64 × 1 MiB, 8 × 64 MiB, 500 × 4 KiB) and longer loads. */
export const FULL: BenchMode = {
  name: "full",
  seconds: 8,
  maxRequests: 1_000_000,
  depth: 16,
  auditAppends: 50_000,
  auditSeconds: 6,
  idleConnections: 1_000,
  maxFreshConnections: 5_000,
  uploads: [
    { name: "1MiB", files: 64, bytes: MIB },
    { name: "64MiB", files: 8, bytes: 64 * MIB },
    { name: "4KiB", files: 500, bytes: 4 * KIB },
  ],
  settleSeconds: 30,
};
