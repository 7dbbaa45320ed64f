/**
 * The audit actor: appends every `audit.append` to the hash-chained log and
 * replies only once the entry is committed ("acknowledged means recorded").
 * Whatever queued up while the previous commit ran is written in one
 * transaction (group commit), so durability costs one commit per batch, not
 * one per command. It also records dead letters, so a given-up message is
 * never lost silently.
 *
 * Consumes: `audit.append` (request), `system.dead_lettered` and
 * `system.actor_gave_up` (events).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Message } from "../broker/messages.ts";
import { openDatabase, type SyncMode } from "../persistence/database.ts";
import { type AuditEntryInput, AuditWriter } from "../persistence/audit_store.ts";
import type { ActorBehaviour, ActorContext } from "./actor.ts";
import type { AuditMetrics } from "../observability/audit_metrics.ts";
import { type AuditQueryTopic, withAuditQueries } from "./audit_queries.ts";

/** The kinds the audit actor consumes. */
export const AUDIT_TOPICS = [
  "audit.append",
  "system.dead_lettered",
  "system.actor_gave_up",
] as const;

type AuditTopic = (typeof AUDIT_TOPICS)[number];

/** The audit actor's state: its own connection and the chain's head. */
export interface AuditState {
  readonly db: DatabaseSync;
  readonly writer: AuditWriter;
}

/** Options for {@linkcode createAuditActor}. */
export interface AuditActorOptions {
  readonly databasePath: string;
  readonly sync: SyncMode;
  /** Updated at each commit, for /metrics. */
  readonly metrics?: AuditMetrics;
}

/** Creates the audit actor's behaviour, with the audit reads of `audit_queries.ts`. */
export function createAuditActor(
  options: AuditActorOptions,
): ActorBehaviour<AuditState, AuditTopic | AuditQueryTopic> {
  return withAuditQueries(createAuditWriter(options), (state) => state.db);
}

function createAuditWriter(
  options: AuditActorOptions,
): ActorBehaviour<AuditState, AuditTopic> {
  const writeBatch = (
    state: AuditState,
    messages: readonly Message<AuditTopic>[],
    ctx: ActorContext,
  ): AuditState => {
    const written = state.writer.append(messages.map(toEntry));
    options.metrics?.recordCommit(messages.length);
    messages.forEach((m, i) => {
      if (m.type === "audit.append") ctx.reply(m, written[i]!);
    });
    return state;
  };
  return {
    name: "audit",
    consumes: AUDIT_TOPICS,
    init() {
      const db = openDatabase(options.databasePath, { sync: options.sync });
      return { db, writer: new AuditWriter(db) };
    },
    handle(state, message, ctx) {
      return { state: writeBatch(state, [message], ctx) };
    },
    handleBatch(state, messages, ctx) {
      return writeBatch(state, messages, ctx);
    },
    terminate(state) {
      state.db.close();
    },
  };
}

/** Turns a message into the row the audit log stores. */
export function toEntry(message: Message<AuditTopic>): AuditEntryInput {
  const base = {
    at: message.at,
    messageId: message.id,
    principal: message.source.principal,
    channel: message.source.channel,
    address: message.source.address ?? null,
  };
  if (message.type === "system.actor_gave_up") {
    return {
      ...base,
      action: "system.actor_gave_up",
      device: null,
      outcome: "failed",
      code: "unavailable",
      detail: JSON.stringify(message.payload),
    };
  }
  if (message.type === "system.dead_lettered") {
    const p = message.payload;
    return {
      ...base,
      action: "system.dead_lettered",
      device: null,
      outcome: "failed",
      code: "internal",
      detail: JSON.stringify(p),
    };
  }
  const p = message.payload;
  return {
    ...base,
    action: p.action,
    device: p.device ?? null,
    outcome: p.outcome,
    code: p.code ?? null,
    detail: p.detail === undefined ? null : JSON.stringify(p.detail),
  };
}
