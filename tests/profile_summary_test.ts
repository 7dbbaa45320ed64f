/**
 * bench/profile_summary.ts: the shares it prints are of the busy time
 * (idle left out), and a stage counts everything called under it.
 */
import assert from "node:assert/strict";
import { summarise } from "../bench/profile_summary.ts";

const frame = (functionName: string, file = "") => ({
  functionName,
  url: file === "" ? "" : `file:///hub/${file}`,
});

Deno.test("the profile summary counts a stage's callees in its inclusive share, idle outside busy", () => {
  // root → handleMany (device_actor) → commit (journal) → transaction (database) → exec (native)
  const nodes = [
    { id: 1, callFrame: frame("(root)"), children: [2, 5] },
    { id: 2, callFrame: frame("handleMany", "actors/device_actor.ts"), children: [3] },
    { id: 3, callFrame: frame("commit", "persistence/journal.ts"), children: [6] },
    { id: 6, callFrame: frame("transaction", "persistence/database.ts"), children: [4] },
    { id: 4, callFrame: frame("exec"), children: [] },
    { id: 5, callFrame: frame("(idle)"), children: [] },
  ];
  // 300 µs in exec, 100 µs in handleMany itself, 600 µs idle (and root → (idle)).
  const text = summarise({
    nodes,
    samples: [4, 4, 4, 2, 5],
    timeDeltas: [100, 100, 100, 100, 600],
  });
  assert.match(text, /^busy 0\.00 s of 0\.00 s; SQLite 75\.0 % of it; BEGIN\/COMMIT 75\.0 %/);
  assert.match(text, /75\.0 % {2}journal commit/);
  assert.match(text, /100\.0 % {2}device actor batch/);
  assert.doesNotMatch(text, /TLS: replies written/);
});
