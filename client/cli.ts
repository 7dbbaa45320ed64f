/**
 * The hub's command-line client. One subcommand per file in `commands/`.
 *
 * Usage: `deno task cli <subcommand> [options]`; `deno task cli help`.
 *
 * @module
 */
import type { CliCommand } from "./commands/command.ts";
import { err, out } from "./commands/command.ts";
import { auditCommand } from "./commands/audit.ts";
import { credentialsCommand } from "./commands/credentials.ts";
import { udpCommand } from "./commands/udp.ts";
import { statusCommand } from "./commands/status.ts";
import { deviceCommand } from "./commands/device.ts";
import { filesCommand } from "./commands/files.ts";
import { rulesCommand } from "./commands/rules.ts";

/** Every subcommand by name. Add a line per new subcommand file. */
export const COMMANDS: Readonly<Record<string, CliCommand>> = {
  audit: auditCommand,
  udp: udpCommand,
  status: statusCommand,
  device: deviceCommand,
  credentials: credentialsCommand,
  files: filesCommand,
  rules: rulesCommand,
};

/** Runs the CLI with `args`; returns the exit code. */
export async function runCli(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  const command = name === undefined || !Object.hasOwn(COMMANDS, name) ? undefined : COMMANDS[name];
  if (!command) {
    if (name !== undefined && name !== "help" && name !== "--help") {
      err(`Unknown subcommand: ${name}`);
    }
    out("Usage: deno task cli <subcommand> [options]\n");
    for (const [key, c] of Object.entries(COMMANDS)) out(`  ${key.padEnd(10)} ${c.summary}`);
    out("\nDetails:");
    for (const c of Object.values(COMMANDS)) {
      out(c.usage.split("\n").map((l) => "  " + l).join("\n"));
    }
    return name === undefined || name === "help" || name === "--help" ? 0 : 2;
  }
  return await command.run(rest);
}

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
