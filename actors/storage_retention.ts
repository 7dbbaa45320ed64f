/**
 * Runs the storage actor's retention rules periodically by sending it
 * `storage.apply_retention` (the actor does the work and audits each
 * deletion). One run at a time; a run that fails is logged and retried at
 * the next tick. Also the run itself ({@linkcode applyRetention}), which the
 * actor calls.
 *
 * @module
 */
import { join } from "node:path";
import type { StorageRetentionReport } from "../broker/messages.ts";
import type { ActorContext } from "./actor.ts";
import { DAY_MS, type StorageState } from "./storage_state.ts";
import { removeEmptyParents, removeQuietly } from "./storage_fs.ts";
import type { Broker } from "../broker/broker.ts";
import { createMessage } from "../broker/envelope.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("storage", "retention");

/** A running schedule. */
export interface RetentionSchedule {
  /** Stops the schedule; idempotent. */
  close(): void;
}

/** Sends `storage.apply_retention` every `intervalMs` (and once at start). */
export function startRetentionSchedule(broker: Broker, intervalMs: number): RetentionSchedule {
  let running = false;
  let closed = false;
  const run = async () => {
    if (running || closed) return;
    running = true;
    try {
      const result = await broker.ask(
        createMessage("storage.apply_retention", {}, { principal: null, channel: "system" }),
        { timeoutMs: 60_000 },
      );
      if (!result.ok) log.warn("Retention run failed: {kind}", { kind: result.failure.kind });
      else if (result.reply.payload.ok && result.reply.payload.value.deleted > 0) {
        log.info("Retention deleted {deleted} files ({freedBytes} bytes)", {
          ...result.reply.payload.value,
        });
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(run, intervalMs);
  void run();
  return {
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
}

/** Deletes files past their user's retention rules; every deletion is audited. */
export function applyRetention(
  state: StorageState,
  ctx: ActorContext,
  requestedBy: string | null,
): StorageRetentionReport {
  let deleted = 0;
  let freedBytes = 0;
  const now = ctx.clock.now();
  for (const user of state.users.values()) {
    if (user.retentionDays === 0 && user.retentionFiles === 0) continue;
    const rows = state.index.filesOf(user.principal);
    const cutoff = user.retentionDays > 0 ? now - user.retentionDays * DAY_MS : -Infinity;
    const keepFrom = user.retentionFiles > 0 ? rows.length - user.retentionFiles : 0;
    rows.forEach((row, i) => {
      if (Date.parse(row.storedAt) >= cutoff && i >= keepFrom) return;
      const fsPath = join(state.root, ...row.path.split("/"));
      removeQuietly(fsPath);
      state.index.remove(row.path);
      deleted++;
      freedBytes += row.size;
      ctx.publish(createMessage("audit.append", {
        action: "storage.retention_deleted",
        outcome: "ok",
        detail: { path: row.path, owner: row.owner, size: row.size, storedAt: row.storedAt },
      }, { principal: requestedBy, channel: "system" }));
      removeEmptyParents(fsPath, join(state.root, ...user.home));
    });
  }
  return { deleted, freedBytes };
}
