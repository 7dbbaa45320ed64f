/**
 * UDP rows, against the seed-style Python loop (recvfrom, reply
 * `UDP command '...' executed.`, nothing else), same run, same client
 * shape (one socket, closed loop, 1 and 16 outstanding):
 *
 * - compatibility mode: a second hub with `UDP_AUTH=none` gets the seed's
 *   own plain datagrams (`lamp toggle`, run as `anonymous`, applied and
 *   audited);
 * - signed mode: `admin` sends signed `lamp toggle` commands (validated,
 *   authorised, applied, durably audited, signed reply); `hall-sensor`
 *   sends signed readings.
 *
 * A datagram with no reply after a second counts as lost (no
 * retransmission, so the loss is seen).
 *
 * @module
 */
import { join } from "node:path";
import { type BenchContext, startBenchHub } from "./main.ts";
import { type BenchRow, failedRow, peerFigure, peerRow } from "./report.ts";
import { type UdpDialect, type UdpFigures, udpLoad } from "./udp_load.ts";
import { udpPlainLoad } from "./udp_plain_load.ts";
import { startSeedPeer } from "./peers/seed_peer.ts";
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

const hubFigure = (f: UdpFigures) => ({
  value: f.rate,
  p50Ms: f.p50Ms,
  p99Ms: f.p99Ms,
  errors: f.errors + f.lost,
});

const detailsOf = (f: UdpFigures) => ({ lost: f.lost, refused: f.errors });

/** Runs the UDP rows. */
export async function runUdpWorkloads(ctx: BenchContext): Promise<BenchRow[]> {
  const port = ctx.port("udp");
  if (port === undefined) return [failedRow("udp", "cmd/s", "The hub has no udp listener")];
  const bounds = { maxRequests: ctx.mode.maxRequests, seconds: ctx.mode.seconds };
  const seed = await startSeedPeer("udp");
  const seedRun = async (outstanding: number) =>
    peerFigure(
      "seed (Python)",
      "unavailable" in seed
        ? seed
        : await udpPlainLoad(seed.info.port as number, outstanding, bounds),
    );
  const rows: BenchRow[] = [];
  try {
    const compatDir = join(ctx.dir, "compat");
    await Deno.mkdir(compatDir, { recursive: true });
    await using compat = await startBenchHub(compatDir, {
      UDP_AUTH: "none",
      SSL_CERT: ctx.certPath,
      SSL_KEY: ctx.keyPath,
      FTP_PASV_MIN: "31800",
      FTP_PASV_MAX: "31810",
    });
    const compatPort = (compat.info.ports as Record<string, number>).udp!;
    const signed: [string, UdpDialect][] = [
      ["udp.signed_command", hubDialect("admin", "cmd", "lamp toggle")],
      ["udp.signed_reading", hubDialect("hall-sensor", "rpt", "hall-sensor temperature 21.4")],
    ];
    for (const outstanding of [1, 16]) {
      const peer = await seedRun(outstanding);
      const plain = await udpPlainLoad(compatPort, outstanding, bounds);
      rows.push(
        peerRow(`udp.compat outstanding=${outstanding}`, "cmd/s", hubFigure(plain), [peer], {
          minRatio: 1,
          details: detailsOf(plain),
        }),
      );
      for (const [name, dialect] of signed) {
        const h = await udpLoad(port, dialect, outstanding, bounds);
        rows.push(peerRow(`${name} outstanding=${outstanding}`, "cmd/s", hubFigure(h), [peer], {
          ...(name === "udp.signed_command" ? { minRatio: 0.5 } : {}),
          details: detailsOf(h),
          ...(h.errors > 0 ? { error: `${h.errors} requests refused by the hub (not ok)` } : {}),
        }));
      }
    }
  } finally {
    if (!("unavailable" in seed)) await seed.stop();
  }
  return rows;
}
