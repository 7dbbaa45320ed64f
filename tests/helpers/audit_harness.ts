/**
 * A child process for the SIGKILL test: runs the audit actor on the given
 * database and appends entries as fast as it can, printing `ack <seq>` only
 * after each entry's reply (i.e. after it was committed). The parent kills
 * it with SIGKILL at a random moment.
 *
 * Usage: deno run ... audit_harness.ts <database path>
 *
 * @module
 */
import { ActorSystem } from "../../actors/actor_system.ts";
import { createAuditActor } from "../../actors/audit_actor.ts";
import { createMessage } from "../../broker/envelope.ts";

const path = Deno.args[0];
if (!path) throw new Error("Usage: audit_harness.ts <database path>");
const broker = new ActorSystem();
await broker.spawn(createAuditActor({ databasePath: path, sync: "normal" }));
const encoder = new TextEncoder();
let n = 0;
// Bounded: the parent kills it long before this ends.
while (n < 1_000_000) {
  const batch = Array.from({ length: 8 }, () =>
    broker.ask(
      createMessage("audit.append", {
        action: "device.command",
        device: "lamp",
        outcome: "ok",
        detail: { n: n++ },
      }, {
        principal: "harness",
        channel: "cli",
      }),
      { timeoutMs: 5000, waitForRoom: true },
    ));
  for (const result of await Promise.all(batch)) {
    if (result.ok) Deno.stdout.writeSync(encoder.encode(`ack ${result.reply.payload.seq}\n`));
  }
}
