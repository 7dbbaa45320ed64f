/**
 * FTP rows: uploads of each shape (1 MiB, 64 MiB, 4 KiB files) with 1 and 8
 * clients, Python's ftplib as the client (its own process), in the same run:
 * the hub's plain FTP against pyftpdlib (Debian's python3-pyftpdlib, plain
 * FTP, its default single-process loop), and the hub's FTPS against its own
 * plain FTP. The hub's peak resident memory during the uploads is recorded.
 *
 * @module
 */
import { join } from "node:path";
import type { BenchContext } from "./main.ts";
import { type BenchRow, failedRow, limitRow, type PeerFigure, peerRow } from "./report.ts";
import type { UploadShape } from "./mode.ts";
import { type ChildServer, startChild } from "./child_server.ts";
import { SYSTEM_PYTHON } from "./peers/peer_memory.ts";
import { TEST_SECRETS } from "../tests/helpers/hub_fixture.ts";

/** What one upload run reports. */
interface UploadFigures {
  readonly seconds: number;
  readonly bytes: number;
  readonly files: number;
  readonly errors: number;
  readonly error: string;
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
}

const SCRIPT = new URL("./ftp_upload.py", import.meta.url).pathname;
const PEER_USER = "bench";

async function upload(
  target: { port: number; user: string; password: string; caCert: string },
  tls: boolean | "nodelay",
  shape: UploadShape,
  clients: number,
): Promise<UploadFigures> {
  const prefix = `bench_${tls ? "ftps" : "ftp"}_${shape.name}_${clients}_${Date.now()}`;
  const output = await new Deno.Command(SYSTEM_PYTHON, {
    args: [
      SCRIPT,
      "127.0.0.1",
      String(target.port),
      target.user,
      target.password,
      tls === "nodelay" ? "2" : tls ? "1" : "0",
      target.caCert,
      String(Math.max(shape.files, clients)),
      String(shape.bytes),
      String(clients),
      prefix,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success || !text) {
    throw new Error(`ftp_upload.py failed: ${new TextDecoder().decode(output.stderr).slice(-300)}`);
  }
  return JSON.parse(text) as UploadFigures;
}

/** Throughput in the row's unit: files/s for small files, MB/s otherwise. */
const small = (shape: UploadShape) => shape.bytes < 64 * 1024;
const rate = (shape: UploadShape, f: UploadFigures) =>
  small(shape) ? f.files / f.seconds : f.bytes / 1e6 / f.seconds;

const figure = (shape: UploadShape, f: UploadFigures) => ({
  value: rate(shape, f),
  ...(f.p50_ms === null ? {} : { p50Ms: f.p50_ms }),
  ...(f.p99_ms === null ? {} : { p99Ms: f.p99_ms }),
  errors: f.errors,
});

async function startPyftpdlib(home: string): Promise<ChildServer | { unavailable: string }> {
  try {
    return await startChild({
      entry: "bench/peers/pyftpd_server.py",
      command: SYSTEM_PYTHON,
      args: [home, PEER_USER, "bench-pass", "31900", "31963"],
      permissions: [],
    });
  } catch (error) {
    return {
      unavailable: `pyftpdlib did not start with ${SYSTEM_PYTHON} (Debian python3-pyftpdlib): ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  }
}

/** Runs the FTP rows. */
export async function runFtpWorkloads(ctx: BenchContext): Promise<BenchRow[]> {
  const port = ctx.port("ftp");
  if (port === undefined) return [failedRow("ftp", "MB/s", "The hub has no ftp listener")];
  const hub = {
    port,
    user: TEST_SECRETS.ftpUser,
    password: TEST_SECRETS.ftpPassword,
    caCert: ctx.certPath,
  };
  const peerHome = join(ctx.dir, "pyftpdlib");
  await Deno.mkdir(peerHome, { recursive: true });
  const peer = await startPyftpdlib(peerHome);
  const rows: BenchRow[] = [];
  let peak = 0;
  await ctx.hub.memory(); // start a fresh peak window
  try {
    for (const shape of ctx.mode.uploads) {
      const unit = small(shape) ? "files/s" : "MB/s";
      for (const clients of [1, 8]) {
        const label = `${shape.name} clients=${clients}`;
        let peerFigure: PeerFigure;
        if ("unavailable" in peer) {
          peerFigure = { name: "pyftpdlib", value: null, unavailable: peer.unavailable };
        } else {
          const p = await upload(
            { port: peer.info.port as number, user: PEER_USER, password: "bench-pass", caCert: "" },
            false,
            shape,
            clients,
          );
          peerFigure = { name: "pyftpdlib", ...figure(shape, p) };
          await Deno.remove(peerHome, { recursive: true });
          await Deno.mkdir(peerHome);
        }
        const plain = await upload(hub, false, shape, clients);
        peak = Math.max(peak, (await ctx.hub.memory()).peakMiB);
        const secure = await upload(hub, true, shape, clients);
        peak = Math.max(peak, (await ctx.hub.memory()).peakMiB);
        const problems = (f: UploadFigures) =>
          f.errors > 0 ? { error: `${f.errors} uploads failed: ${f.error}` } : {};
        const plainFigure = figure(shape, plain);
        rows.push(peerRow(`ftp.upload ${label}`, unit, plainFigure, [peerFigure], {
          minRatio: 1,
          ...problems(plain),
        }));
        rows.push(peerRow(
          `ftps.upload ${label}`,
          unit,
          figure(shape, secure),
          [{ name: "hub plain FTP", ...plainFigure }],
          { minRatio: 0.7, ...problems(secure) },
        ));
        if (small(shape) && clients === 1) {
          // ftplib leaves Nagle on: its close_notify waits for the hub's delayed ACK (docs/BENCHMARKS.md).
          const quick = await upload(hub, "nodelay", shape, clients);
          rows.push(peerRow(
            `ftps.upload ${label} client TCP_NODELAY`,
            unit,
            figure(shape, quick),
            [{ name: "hub plain FTP", ...plainFigure }],
            problems(quick),
          ));
        }
      }
    }
  } finally {
    if (!("unavailable" in peer)) await peer.stop();
  }
  rows.push(limitRow("memory.peak_during_ftp", peak, null));
  return rows;
}
