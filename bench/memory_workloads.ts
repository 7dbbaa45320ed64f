/**
 * Memory of the hub process: resident size idle (beside the peers' idle
 * figures), with many idle authenticated TLS connections open, and again a
 * while after the TLS load ended (it should come back near the idle figure).
 *
 * @module
 */
import type { BenchContext } from "./main.ts";
import { type BenchRow, failedRow, limitRow, type PeerFigure } from "./report.ts";
import { openSession } from "./tls_load.ts";
import { HUB_DIALECT } from "./hub_dialect.ts";
import { startMosquitto } from "./peers/mosquitto_peer.ts";
import { startSeedPeer } from "./peers/seed_peer.ts";
import { TRIM_CHECK_MS } from "../observability/memory_trim.ts";

/** Idle RSS limit of the targets, in MiB. */
export const IDLE_LIMIT_MIB = 64;
/** RSS limit with 1 000 idle TLS connections, in MiB. */
export const CONNECTIONS_LIMIT_MIB = 120;
/** After a load, RSS may exceed the idle figure by this fraction. */
export const SETTLE_MARGIN = 0.25;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function idlePeers(ctx: BenchContext): Promise<PeerFigure[]> {
  const peers: PeerFigure[] = [];
  const mosquitto = await startMosquitto(ctx.dir, ctx.certPath, ctx.keyPath);
  const seed = await startSeedPeer("tls", [ctx.certPath, ctx.keyPath]);
  await pause(300);
  for (const [name, peer] of [["mosquitto", mosquitto], ["seed (Python)", seed]] as const) {
    if ("unavailable" in peer) peers.push({ name, value: null, unavailable: peer.unavailable });
    else {
      peers.push({ name, value: (await peer.memory()).rssMiB });
      await peer.stop();
    }
  }
  return peers;
}

/** Idle RSS, then RSS with `mode.idleConnections` logged-in idle TLS connections. */
export async function runMemoryIdle(ctx: BenchContext): Promise<BenchRow[]> {
  // An idle hub as users have it: past its first quiet check, where it gives start-up garbage back.
  await pause(TRIM_CHECK_MS + 1000);
  const idle = (await ctx.hub.memory()).rssMiB;
  const rows: BenchRow[] = [
    { ...limitRow("memory.idle", idle, IDLE_LIMIT_MIB), peers: await idlePeers(ctx) },
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
    // Idle connections: past the check that sees the hub quiet after the logins (it then trims).
    await pause(2 * TRIM_CHECK_MS + 1000);
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

/** RSS `mode.settleSeconds` after the last load, against the idle figure plus the margin. */
export async function runMemoryAfterLoad(ctx: BenchContext, idleMiB: number): Promise<BenchRow[]> {
  const loaded = await ctx.hub.memory();
  await pause(ctx.mode.settleSeconds * 1000);
  const after = await ctx.hub.memory();
  const limit = idleMiB * (1 + SETTLE_MARGIN);
  const row = limitRow(`memory.after_load+${ctx.mode.settleSeconds}s`, after.rssMiB, limit);
  // Where the memory is: V8's heap (used / reserved) and buffers, at the end of the load and after.
  const heap = (m: typeof after, when: string) => ({
    [`${when}_rss_mib`]: m.rssMiB,
    [`${when}_heap_used_mib`]: m.heapUsedMiB ?? Number.NaN,
    [`${when}_heap_total_mib`]: m.heapTotalMiB ?? Number.NaN,
    [`${when}_external_mib`]: m.externalMiB ?? Number.NaN,
  });
  return [{
    ...row,
    details: { idle_mib: idleMiB, ...heap(loaded, "end"), ...heap(after, "settled") },
  }];
}
