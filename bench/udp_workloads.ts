/**
 * UDP workloads: signed commands (`admin`: `lamp toggle`: validated,
 * applied, durably audited, signed reply) and signed readings
 * (`hall-sensor`: a temperature), each with 1 and 16 datagrams outstanding
 * from one socket (closed loop, see udp_load.ts), against a bare
 * `Deno.listenDatagram` echo of the same bytes. A datagram with no reply
 * after a second counts as lost (no retransmission, so the loss is seen).
 *
 * @module
 */
import type { BenchContext } from "./main.ts";
import { type BenchRow, failedRow, row } from "./report.ts";
import { startChild } from "./child_server.ts";
import { echoedId, type UdpDialect, type UdpFigures, udpLoad } from "./udp_load.ts";
import { TEST_SECRETS } from "../tests/helpers/hub_fixture.ts";
import { signingKeyFromHex } from "../protocols/udp/hmac.ts";
import { type DatagramKind, decodeReply } from "../protocols/udp/udp_datagram.ts";

function hubDialect(principal: string, kind: DatagramKind, body: string): UdpDialect {
  const key = signingKeyFromHex(TEST_SECRETS.udpKeyHex(principal))!;
  return {
    principal,
    key,
    kind,
    body,
    readReply(bytes) {
      const decoded = decodeReply(bytes, key);
      if (decoded.signed === null) return undefined;
      return { id: decoded.reply.id, ok: decoded.signed && decoded.reply.status === "ok" };
    },
  };
}

function details(hub: UdpFigures, base: UdpFigures): Record<string, number> {
  return {
    p50_ms: hub.p50Ms,
    p99_ms: hub.p99Ms,
    lost: hub.lost,
    refused: hub.errors,
    base_p50_ms: base.p50Ms,
    base_p99_ms: base.p99Ms,
    base_lost: base.lost,
  };
}

/** Runs the UDP rows. */
export async function runUdpWorkloads(ctx: BenchContext): Promise<BenchRow[]> {
  const port = ctx.port("udp");
  if (port === undefined) return [failedRow("udp", "ack/s", "The hub has no udp listener")];
  await using echo = await startChild({
    entry: "bench/baseline_server.ts",
    args: ["udp-echo"],
    permissions: ["--allow-net=127.0.0.1"],
  });
  const basePort = echo.info.port as number;
  const bounds = { maxRequests: ctx.mode.maxRequests, seconds: ctx.mode.seconds };
  const workloads: [string, UdpDialect][] = [
    ["udp.signed_command", hubDialect("admin", "cmd", "lamp toggle")],
    ["udp.signed_reading", hubDialect("hall-sensor", "rpt", "hall-sensor temperature 21.4")],
  ];
  const rows: BenchRow[] = [];
  for (const [name, dialect] of workloads) {
    for (const outstanding of [1, 16]) {
      const base = await udpLoad(
        basePort,
        { ...dialect, readReply: echoedId },
        outstanding,
        bounds,
      );
      const hub = await udpLoad(port, dialect, outstanding, bounds);
      rows.push(row(`${name} outstanding=${outstanding}`, "ack/s", hub.rate, base.rate, {
        baselineName: "bare listenDatagram echo",
        minRatio: 0.5,
        details: details(hub, base),
        ...(hub.errors > 0 ? { error: `${hub.errors} requests refused by the hub (not ok)` } : {}),
      }));
    }
  }
  return rows;
}
