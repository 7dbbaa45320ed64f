/**
 * bench/commit_floor.ts measures real SQLite commits on a real database
 * file: one figure per round, and leaves no file behind.
 */
import assert from "node:assert/strict";
import { commitCost } from "../bench/commit_floor.ts";

Deno.test("commit floor - one positive cost per round for each shape, nothing left behind", () => {
  const dir = Deno.makeTempDirSync({ prefix: "floor_test_" });
  try {
    for (const shape of ["journal", "audit_row_only"] as const) {
      const costs = commitCost(dir, shape, 3, 50);
      assert.equal(costs.length, 3);
      for (const cost of costs) assert.ok(Number.isFinite(cost) && cost > 0, `${shape}: ${cost}`);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
