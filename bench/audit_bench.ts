/**
 * Audit durability: appends per second to the hash-chained audit log with
 * every commit flushed to disk (`synchronous=FULL`), written in groups (one
 * transaction per batch, as the audit actor does) against one commit and
 * flush per append. Uses the real `AuditWriter`.
 *
 * @module
 */
import { join } from "node:path";
import { openDatabase } from "../persistence/database.ts";
import { type AuditEntryInput, AuditWriter } from "../persistence/audit_store.ts";
import { type BenchRow, row } from "./report.ts";

/** Appends/s for one batch size. */
export interface AuditFigure {
  readonly batch: number;
  readonly appendsPerSecond: number;
  readonly appends: number;
}

function entry(i: number): AuditEntryInput {
  return {
    at: new Date().toISOString(),
    messageId: crypto.randomUUID(),
    principal: "bench",
    channel: "tls",
    address: "127.0.0.1:1",
    action: "device.command",
    device: "lamp",
    outcome: "ok",
    code: null,
    detail: JSON.stringify({ args: ["toggle"], i }),
  };
}

/**
 * Appends in batches of `batch` into a fresh database under `dir` until
 * `maxAppends` or `seconds` is reached.
 */
export function auditAppendRate(
  dir: string,
  batch: number,
  bounds: { maxAppends: number; seconds: number },
): AuditFigure {
  const path = join(dir, `audit_${batch}_${crypto.randomUUID()}.db`);
  const db = openDatabase(path, { sync: "full" });
  try {
    const writer = new AuditWriter(db);
    writer.append([entry(-1)]); // schema and WAL warmed up
    let appends = 0;
    const start = performance.now();
    const deadline = start + bounds.seconds * 1000;
    while (appends < bounds.maxAppends && performance.now() < deadline) {
      const n = Math.min(batch, bounds.maxAppends - appends);
      writer.append(Array.from({ length: n }, (_, k) => entry(appends + k)));
      appends += n;
    }
    const seconds = (performance.now() - start) / 1000;
    return { batch, appendsPerSecond: appends / seconds, appends };
  } finally {
    db.close();
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(path + suffix);
      } catch { /* not there */ }
    }
  }
}

/** Audit rows: group commit (batch 64) against one commit and flush per append. */
export function runAuditWorkloads(
  dir: string,
  bounds: { auditAppends: number; auditSeconds: number },
): BenchRow[] {
  const limits = { maxAppends: bounds.auditAppends, seconds: bounds.auditSeconds };
  const single = auditAppendRate(dir, 1, limits);
  const grouped = auditAppendRate(dir, 64, limits);
  return [
    row(
      "audit.append sync=full batch=64",
      "appends/s",
      grouped.appendsPerSecond,
      single.appendsPerSecond,
      {
        baselineName: "one commit+fsync per append",
        details: { appends: grouped.appends, single_appends: single.appends },
      },
    ),
  ];
}
