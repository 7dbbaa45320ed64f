/**
 * TLS workloads: connect-per-command at concurrency 1 and 16 against a bare
 * `Deno.listenTls` server that replies to one line, and persistent
 * pipelined connections (1 and 16) against a bare line echo; the same
 * certificate, the same client code, the same pipelining depth.
 *
 * @module
 */
import type { BenchContext } from "./main.ts";
import { type BenchRow, failedRow, row } from "./report.ts";
import { BARE_DIALECT, connectPerCommand, pipelined } from "./tls_load.ts";
import { HUB_DIALECT } from "./hub_dialect.ts";
import { startChild } from "./child_server.ts";
import type { LoopFigures } from "./latency.ts";

function details(hub: LoopFigures, base: LoopFigures): Record<string, number> {
  return {
    p50_ms: hub.p50Ms,
    p99_ms: hub.p99Ms,
    base_p50_ms: base.p50Ms,
    base_p99_ms: base.p99Ms,
    errors: hub.errors,
    base_errors: base.errors,
  };
}

function startBaseline(ctx: BenchContext, kind: "tls-echo" | "tls-once") {
  return startChild({
    entry: "bench/baseline_server.ts",
    args: [kind, ctx.certPath, ctx.keyPath],
    permissions: [`--allow-read=${ctx.dir}`, "--allow-net=127.0.0.1"],
  });
}

/** Runs the TLS rows. */
export async function runTlsWorkloads(ctx: BenchContext): Promise<BenchRow[]> {
  const port = ctx.port("tls");
  if (port === undefined) return [failedRow("tls", "cmd/s", "The hub has no tls listener")];
  const hub = { port, caCert: ctx.caCert };
  const bounds = { maxRequests: ctx.mode.maxRequests, seconds: ctx.mode.seconds };
  const rows: BenchRow[] = [];
  {
    await using once = await startBaseline(ctx, "tls-once");
    const base = { port: once.info.port as number, caCert: ctx.caCert };
    const fresh = {
      ...bounds,
      maxRequests: Math.min(bounds.maxRequests, ctx.mode.maxFreshConnections),
    };
    for (const c of [1, 16]) {
      const b = await connectPerCommand(base, BARE_DIALECT, c, fresh);
      const h = await connectPerCommand(hub, HUB_DIALECT, c, fresh);
      rows.push(row(`tls.connect_per_command c=${c}`, "cmd/s", h.rate, b.rate, {
        baselineName: "bare listenTls, one line",
        minRatio: 0.8,
        details: details(h, b),
      }));
    }
  }
  {
    await using echo = await startBaseline(ctx, "tls-echo");
    const base = { port: echo.info.port as number, caCert: ctx.caCert };
    for (const c of [1, 16]) {
      const depth = ctx.mode.depth;
      const b = await pipelined(base, BARE_DIALECT, c, depth, bounds);
      const h = await pipelined(hub, HUB_DIALECT, c, depth, bounds);
      rows.push(row(`tls.pipelined conns=${c} depth=${depth}`, "cmd/s", h.rate, b.rate, {
        baselineName: "bare listenTls line echo",
        minRatio: 0.5,
        details: details(h, b),
      }));
    }
  }
  return rows;
}
