/**
 * The audit actor's reads (actors/audit_queries.ts): a query queued behind
 * appends sees them (mailbox order, also inside one group-commit batch), and
 * a principal without a wildcard grant sees its own entries and those of
 * its devices only.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ActorSystem } from "../actors/actor_system.ts";
import { createAuditActor } from "../actors/audit_actor.ts";
import { createMessage } from "../broker/envelope.ts";
import type { AuditPage, Outcome } from "../broker/messages.ts";

async function withAudit(work: (broker: ActorSystem) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "audit_queries_" });
  const broker = new ActorSystem();
  try {
    await broker.spawn(createAuditActor({ databasePath: join(dir, "hub.db"), sync: "normal" }));
    await work(broker);
  } finally {
    await broker.drain();
    await Deno.remove(dir, { recursive: true });
  }
}

const append = (principal: string, device: string | undefined, i: number) =>
  createMessage("audit.append", {
    action: "test.entry",
    ...(device === undefined ? {} : { device }),
    outcome: "ok",
    detail: { i },
  }, { principal, channel: "cli" });

function page(outcome: Outcome<AuditPage>): AuditPage {
  assert.ok(outcome.ok);
  return outcome.value;
}

Deno.test("audit.query queued behind appends in the same batch sees every one of them, newest first", async () => {
  await withAudit(async (broker) => {
    // Not awaited: they and the query queue up together and are handled as one batch.
    const appends = Array.from(
      { length: 20 },
      (_, i) => broker.ask(append("admin", "lamp", i), { timeoutMs: 5000 }),
    );
    const asked = await broker.ask(
      createMessage("audit.query", { limit: 500, visibleDevices: "*" }, {
        principal: "admin",
        channel: "cli",
      }),
      { timeoutMs: 5000 },
    );
    await Promise.all(appends);
    assert.ok(asked.ok);
    const entries = page(asked.reply.payload).entries;
    assert.equal(entries.length, 20);
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => 20 - i));
  });
});

Deno.test("audit.query shows a limited principal its own entries and its devices' entries only", async () => {
  await withAudit(async (broker) => {
    for (
      const [principal, device] of [["admin", "lamp"], ["admin", "garage"], ["admin", undefined], [
        "panel",
        undefined,
      ]] as const
    ) {
      await broker.ask(append(principal, device, 0), { timeoutMs: 5000 });
    }
    const asked = await broker.ask(
      createMessage("audit.query", { limit: 50, visibleDevices: ["lamp"] }, {
        principal: "panel",
        channel: "http",
      }),
      { timeoutMs: 5000 },
    );
    assert.ok(asked.ok);
    const seen = page(asked.reply.payload).entries.map((e) => `${e.principal}:${e.device}`);
    assert.deepEqual(seen, ["panel:null", "admin:lamp"]);
    const verify = await broker.ask(
      createMessage("audit.verify", {}, { principal: "panel", channel: "http" }),
      { timeoutMs: 5000 },
    );
    assert.ok(verify.ok && verify.reply.payload.ok);
    assert.deepEqual(verify.reply.payload.value, { ok: true, entries: 4, lastSeq: 4 });
  });
});
