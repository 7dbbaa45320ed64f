/**
 * `cli rules list|enable|disable|scene`: the automation rules of a running
 * hub, over its TLS command channel (so that enabling or disabling takes
 * effect at once, without a restart), and applying a scene.
 *
 * @module
 */
import type { HubReply } from "../hub_client.ts";
import type { RuleSummary, SceneReport } from "../../broker/messages.ts";
import { textRules, textScene } from "../../protocols/replies.ts";
import { type CliCommand, err, out, parseOptions } from "./command.ts";
import { connectAndLogin, CONNECTION_OPTIONS, CONNECTION_USAGE } from "./hub_connection.ts";

const USAGE = `rules list                 every rule: enabled or not, trigger, actions, runs
rules enable <rule>        enable a rule in the running hub (kept across restarts)
rules disable <rule>       disable it: it no longer fires
rules scene <scene>        apply a scene as the logged-in principal
${CONNECTION_USAGE}`;

/** The `rules` subcommand. */
export const rulesCommand: CliCommand = {
  summary: "List, enable and disable automation rules; apply scenes (TLS)",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, CONNECTION_OPTIONS, USAGE);
    if (!parsed) return 2;
    const { values, positionals } = parsed;
    const [verb, target, ...extra] = positionals;
    const needsTarget = verb === "enable" || verb === "disable" || verb === "scene";
    if (
      verb === undefined || !["list", "enable", "disable", "scene"].includes(verb) ||
      (needsTarget ? target === undefined || extra.length > 0 : target !== undefined)
    ) {
      err(USAGE);
      return 2;
    }
    const client = await connectAndLogin(values);
    if (typeof client === "number") return client;
    try {
      const show = <T>(reply: HubReply<T>, human: (result: T) => string): number => {
        if (values.json) out(JSON.stringify(reply));
        else if (reply.ok) out(human(reply.result));
        else err(`Error ${reply.error.code}: ${reply.error.message}`);
        return reply.ok ? 0 : 1;
      };
      switch (verb) {
        case "list":
          return show(await client.rules(), (rules: RuleSummary[]) => textRules(rules));
        case "scene":
          return show(await client.scene(target!), (report: SceneReport) => textScene(report));
        default:
          return show(
            await client.setRule(target!, verb === "enable"),
            (rule: RuleSummary) => `Rule ${rule.id} ${rule.enabled ? "enabled" : "disabled"}`,
          );
      }
    } finally {
      client.close();
    }
  },
};
