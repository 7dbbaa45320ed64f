import assert from "node:assert/strict";
import { InProcessBroker } from "../broker/in_process_broker.ts";
import { createMessage } from "../broker/envelope.ts";
import type { ActorBehaviour } from "../actors/actor.ts";
import type { Message } from "../broker/messages.ts";

const SOURCE = { principal: "test", channel: "cli" } as const;
const command = (device: string, action = "on") =>
  createMessage("device.command", { device, action, args: [] }, SOURCE);

/** A device.command responder that records what it saw. */
function recorder(
  name: string,
  seen: string[],
  options: { delayMs?: number; failOn?: string } = {},
) {
  const behaviour: ActorBehaviour<null, "device.command" | "device.state_changed"> = {
    name,
    consumes: name === "responder" ? ["device.command"] : ["device.state_changed"],
    init: () => null,
    async handle(state, message: Message<"device.command" | "device.state_changed">) {
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      const device = message.payload.device;
      if (device === options.failOn) throw new Error(`boom on ${device}`);
      seen.push(device);
      if (message.type === "device.command") {
        return {
          state,
          reply: {
            ok: true,
            value: {
              id: device,
              type: "light",
              name: device,
              room: "r",
              state: { on: true },
              updatedAt: null,
            },
          },
        } as never;
      }
      return { state };
    },
  };
  return behaviour;
}

Deno.test("ask() delivers a typed request and returns the responder's reply", async () => {
  const broker = new InProcessBroker();
  const seen: string[] = [];
  await broker.spawn(recorder("responder", seen));
  const result = await broker.ask(command("lamp"), { timeoutMs: 1000 });
  assert.ok(result.ok);
  assert.equal(result.reply.type, "device.command_result");
  assert.ok(result.reply.payload.ok);
  assert.equal(result.reply.payload.value.id, "lamp");
  await broker.drain();
});
