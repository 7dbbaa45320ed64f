/**
 * Reads of the audit log answered by the audit actor (issue 12): `audit.query`
 * (entries newest first, filtered and paginated, limited to what the asker
 * may see) and `audit.verify` (the hash chain from its anchor to its head).
 * {@linkcode withAuditQueries} adds both to an actor behaviour, so the audit
 * actor itself needs only one wiring line. Reads run on the actor's own
 * connection, in mailbox order: a query sees every append queued before it.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type {
  AuditEntryView,
  AuditPage,
  AuditQueryPayload,
  AuditVerdict,
  Json,
  Message,
  Outcome,
} from "../broker/messages.ts";
import { timeBounds, verifyAuditChain } from "../persistence/audit_store.ts";
import type { ActorBehaviour, ActorContext } from "./actor.ts";
import type { AUDIT_TOPICS } from "./audit_actor.ts";

/** The request kinds {@linkcode withAuditQueries} adds. */
export const AUDIT_QUERY_TOPICS = ["audit.query", "audit.verify"] as const;

/** One of {@linkcode AUDIT_QUERY_TOPICS}. */
export type AuditQueryTopic = (typeof AUDIT_QUERY_TOPICS)[number];

/** Most entries one page may hold. */
export const MAX_AUDIT_PAGE = 500;

/** Answers one page of entries, newest first. */
export function queryAuditPage(
  db: DatabaseSync,
  query: AuditQueryPayload,
  viewer: string | null,
): Outcome<AuditPage> {
  if (!hasAuditLog(db)) return { ok: true, value: { entries: [], nextBefore: null } };
  const where: string[] = [];
  const args: SQLInputValue[] = [];
  const add = (clause: string, value: SQLInputValue) => (where.push(clause), args.push(value));
  if (query.device !== undefined) add("device = ?", query.device);
  if (query.principal !== undefined) add("principal = ?", query.principal);
  for (const [clause, value] of timeBounds(db, query.since, query.until)) add(clause, value);
  if (query.beforeSeq !== undefined) add("seq < ?", query.beforeSeq);
  if (query.visibleDevices !== "*") {
    // A principal without a wildcard grant sees its own entries and those of devices it may see.
    const marks = query.visibleDevices.map(() => "?").join(", ");
    where.push(`(device IN (${marks || "NULL"}) OR principal = ?)`);
    args.push(...query.visibleDevices, viewer ?? "");
  }
  const limit = Math.max(1, Math.min(MAX_AUDIT_PAGE, Math.trunc(query.limit)));
  const sql = `SELECT seq, at, principal, channel, address, action, device, outcome, code, detail,
    hash FROM audit_log ${where.length ? "WHERE " + where.join(" AND ") : ""}
    ORDER BY seq DESC LIMIT ?`;
  // One more than asked tells whether there is a next page.
  const rows = db.prepare(sql).all(...args, limit + 1) as Record<string, SQLInputValue>[];
  const entries = rows.slice(0, limit).map(toView);
  const nextBefore = rows.length > limit ? entries.at(-1)?.seq ?? null : null;
  return { ok: true, value: { entries, nextBefore } };
}

/** Verifies the whole chain. */
export function verifyAudit(db: DatabaseSync): Outcome<AuditVerdict> {
  const verdict = verifyAuditChain(db);
  if (verdict.ok) {
    return { ok: true, value: { ok: true, entries: verdict.entries, lastSeq: verdict.lastSeq } };
  }
  return {
    ok: true,
    value: {
      ok: false,
      entries: verdict.checked,
      lastSeq: verdict.seq - 1,
      brokenAt: verdict.seq,
      reason: verdict.reason,
    },
  };
}

/** The kinds the audit actor writes (what it consumes besides the reads). */
export type AuditWriteTopic = (typeof AUDIT_TOPICS)[number];

type K = AuditWriteTopic;

function isQuery(message: Message<K | AuditQueryTopic>): message is Message<AuditQueryTopic> {
  return message.type === "audit.query" || message.type === "audit.verify";
}

/** Applies `next` to a value or a promise of one, without a tick when it is a plain value. */
function then<T, U>(value: T | Promise<T>, next: (value: T) => U | Promise<U>): U | Promise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * Adds the audit reads to an actor behaviour (the audit actor's): queries are answered on
 * `dbOf(state)` through `ctx.reply`, everything else goes to `inner`, batches keep their order.
 * A synchronous `inner` stays synchronous (replies go out in the same tick as before).
 */
export function withAuditQueries<S>(
  inner: ActorBehaviour<S, K>,
  dbOf: (state: S) => DatabaseSync,
): ActorBehaviour<S, K | AuditQueryTopic> {
  const answer = (state: S, message: Message<AuditQueryTopic>, ctx: ActorContext) => {
    const db = dbOf(state);
    if (message.type === "audit.query") {
      ctx.reply(message, queryAuditPage(db, message.payload, message.source.principal));
    } else ctx.reply(message, verifyAudit(db));
  };
  /** Writes a run of non-query messages: as one batch when `inner` has batches. */
  const run = (state: S, messages: readonly Message<K>[], ctx: ActorContext): S | Promise<S> => {
    if (inner.handleBatch && messages.length > 1) return inner.handleBatch(state, messages, ctx);
    const [first, ...rest] = messages;
    if (first === undefined) return state;
    return then(inner.handle(state, first, ctx), (handled) => run(handled.state, rest, ctx));
  };
  const batch = (
    state: S,
    messages: readonly Message<K | AuditQueryTopic>[],
    ctx: ActorContext,
  ): S | Promise<S> => {
    const queryAt = messages.findIndex(isQuery);
    if (queryAt < 0) return run(state, messages.filter((m) => !isQuery(m)), ctx);
    const before = messages.slice(0, queryAt).filter((m) => !isQuery(m));
    const query = messages[queryAt]!;
    return then(before.length > 0 ? run(state, before, ctx) : state, (next) => {
      if (isQuery(query)) answer(next, query, ctx);
      return batch(next, messages.slice(queryAt + 1), ctx);
    });
  };
  return {
    ...inner,
    consumes: [...inner.consumes, ...AUDIT_QUERY_TOPICS],
    handle(state, message, ctx) {
      if (!isQuery(message)) return inner.handle(state, message, ctx);
      answer(state, message, ctx);
      return { state };
    },
    handleBatch: batch,
  };
}

function hasAuditLog(db: DatabaseSync): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'")
    .get() !== undefined;
}

function toView(row: Record<string, SQLInputValue>): AuditEntryView {
  const text = (v: SQLInputValue | undefined) => (v === null || v === undefined ? null : String(v));
  let detail: Json = null;
  if (typeof row.detail === "string") {
    try {
      detail = JSON.parse(row.detail) as Json;
    } catch {
      detail = row.detail;
    }
  }
  return {
    seq: Number(row.seq),
    at: String(row.at),
    principal: text(row.principal),
    channel: String(row.channel),
    address: text(row.address),
    action: String(row.action),
    device: text(row.device),
    outcome: String(row.outcome),
    code: text(row.code),
    detail,
    hash: String(row.hash),
  };
}
