/**
 * The seed-style Python servers (seed_server.py) as benchmark peers, run
 * with Debian's /usr/bin/python3; when it cannot start, the value says why.
 *
 * @module
 */
import { type ChildServer, startChild } from "../child_server.ts";
import { SYSTEM_PYTHON } from "./peer_memory.ts";

/** Starts `seed_server.py KIND ARGS`; the error value says why it cannot run. */
export async function startSeedPeer(
  kind: "tls" | "udp",
  args: readonly string[] = [],
): Promise<ChildServer | { unavailable: string }> {
  try {
    return await startChild({
      entry: "bench/peers/seed_server.py",
      command: SYSTEM_PYTHON,
      args: [kind, ...args],
      permissions: [],
    });
  } catch (error) {
    return {
      unavailable: `${SYSTEM_PYTHON} seed_server.py ${kind} did not start: ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  }
}
