/**
 * Memory of the hub process: resident size idle, and with many idle
 * authenticated TLS connections open (read from /proc/<pid>/status).
 *
 * @module
 */
import type { BenchContext } from "./main.ts";
import { type BenchRow, failedRow, limitRow } from "./report.ts";
import { openSession } from "./tls_load.ts";
import { HUB_DIALECT } from "./hub_dialect.ts";

/** Idle RSS limit of the targets, in MiB. */
export const IDLE_LIMIT_MIB = 64;
/** RSS limit with 1 000 idle TLS connections, in MiB. */
export const CONNECTIONS_LIMIT_MIB = 150;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Idle RSS, then RSS with `mode.idleConnections` logged-in idle TLS connections. */
export async function runMemoryIdle(ctx: BenchContext): Promise<BenchRow[]> {
  await pause(500); // let start-up garbage settle before reading the idle figure
  const rows: BenchRow[] = [
    limitRow("memory.idle", (await ctx.hub.memory()).rssMiB, IDLE_LIMIT_MIB),
  ];
  const port = ctx.port("tls");
  const name = `memory.idle+${ctx.mode.idleConnections}tls`;
  if (port === undefined) return [...rows, failedRow(name, "MiB", "The hub has no tls listener")];
  const target = { port, caCert: ctx.caCert };
  const conns: Deno.TlsConn[] = [];
  let failures = 0;
  let next = 0;
  const opener = async () => {
    while (next < ctx.mode.idleConnections) {
      next++;
      try {
        conns.push((await openSession(target, HUB_DIALECT)).conn);
      } catch {
        failures++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, opener));
    await pause(500);
    const mib = (await ctx.hub.memory()).rssMiB;
    rows.push(
      failures > 0
        ? failedRow(name, "MiB", `${failures} of ${ctx.mode.idleConnections} connections failed`)
        : limitRow(name, mib, CONNECTIONS_LIMIT_MIB),
    );
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
  return rows;
}
