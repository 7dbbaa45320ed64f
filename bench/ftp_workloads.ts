/**
 * FTP and FTPS uploads (Python's ftplib as the client, in its own process):
 * each upload shape with 1 and 8 clients, against copying the same bytes to
 * the same disk; FTPS is also compared with plain FTP. The hub's peak
 * resident memory during the uploads is recorded.
 *
 * @module
 */
import { join } from "node:path";
import type { BenchContext } from "./main.ts";
import { type BenchRow, failedRow, limitRow, row } from "./report.ts";
import { diskCopyRate } from "./disk_copy.ts";
import type { UploadShape } from "./mode.ts";

/** What one upload run reports. */
interface UploadFigures {
  readonly seconds: number;
  readonly bytes: number;
  readonly files: number;
  readonly errors: number;
  readonly error: string;
}

const SCRIPT = new URL("./ftp_upload.py", import.meta.url).pathname;

async function upload(
  ctx: BenchContext,
  port: number,
  tls: boolean,
  shape: UploadShape,
  clients: number,
): Promise<UploadFigures> {
  const prefix = `bench_${tls ? "ftps" : "ftp"}_${shape.name}_${clients}_${Date.now()}`;
  const output = await new Deno.Command("python3", {
    args: [
      SCRIPT,
      "127.0.0.1",
      String(port),
      "user",
      "pass",
      tls ? "1" : "0",
      ctx.certPath,
      String(shape.files),
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

const mbps = (f: UploadFigures) => f.bytes / 1e6 / f.seconds;

/** Runs the FTP rows. */
export async function runFtpWorkloads(ctx: BenchContext): Promise<BenchRow[]> {
  const port = ctx.port("ftp");
  if (port === undefined) return [failedRow("ftp", "MB/s", "The hub has no ftp listener")];
  const copyDir = join(ctx.dir, "copy");
  await Deno.mkdir(copyDir, { recursive: true });
  const rows: BenchRow[] = [];
  let peak = 0;
  await ctx.hub.memory(); // start a fresh peak window
  for (const shape of ctx.mode.uploads) {
    for (const clients of [1, 8]) {
      const label = `${shape.name} clients=${clients}`;
      const copy = await diskCopyRate(copyDir, {
        fileBytes: shape.bytes,
        files: shape.files,
        workers: clients,
        fsync: false,
      });
      const plain = await upload(ctx, port, false, shape, clients);
      peak = Math.max(peak, (await ctx.hub.memory()).peakMiB);
      const secure = await upload(ctx, port, true, shape, clients);
      peak = Math.max(peak, (await ctx.hub.memory()).peakMiB);
      const problems = (f: UploadFigures) =>
        f.errors > 0 ? { error: `${f.errors} uploads failed: ${f.error}` } : {};
      rows.push(row(`ftp.upload ${label}`, "MB/s", mbps(plain), copy, {
        baselineName: "write same bytes to same disk",
        minRatio: 0.5,
        details: { files: plain.files, errors: plain.errors },
        ...problems(plain),
      }));
      rows.push(row(`ftps.upload ${label}`, "MB/s", mbps(secure), mbps(plain), {
        baselineName: "plain FTP, same run",
        minRatio: 0.5,
        details: { files: secure.files, errors: secure.errors, copy_mbps: copy },
        ...problems(secure),
      }));
    }
  }
  rows.push(limitRow("memory.peak_during_ftp", peak, null));
  return rows;
}
