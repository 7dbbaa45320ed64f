/**
 * bench/profile_tls.ts: one TLS load shape against a profiled hub writes a
 * V8 profile whose summary shows the hub's own stages (the tool the
 * README's benchmark section uses to explain each missed goal).
 */
import assert from "node:assert/strict";
import { parseShape, profileShape } from "../bench/profile_tls.ts";
import { summarise } from "../bench/profile_summary.ts";

Deno.test("profile shapes are CxD or once:C, nothing else", () => {
  assert.deepEqual(parseShape("16x1"), { kind: "persistent", connections: 16, depth: 1 });
  assert.deepEqual(parseShape("once:16"), { kind: "once", clients: 16 });
  for (const bad of ["", "16", "x1", "16x", "once:", "once:x", "1x1x1", "99999x1"]) {
    assert.equal(parseShape(bad), undefined, bad);
  }
});

Deno.test("profiling a persistent TLS load writes a profile whose summary has the journal in it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_profile_" });
  try {
    const { figures, profile } = await profileShape(
      { kind: "persistent", connections: 2, depth: 2 },
      1,
      dir,
    );
    assert.ok(figures.completed > 0 && figures.errors === 0, JSON.stringify(figures));
    const summary = summarise(JSON.parse(await Deno.readTextFile(profile)));
    assert.match(summary, /journal commit/);
    assert.match(summary, /TLS: replies written/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
