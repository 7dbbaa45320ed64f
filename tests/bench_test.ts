/**
 * `deno task bench --quick` runs every workload against the hub and its
 * baselines, prints the table and writes the same figures as JSON. Checks
 * that the output parses and every figure is present; never a timing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./helpers/hub_fixture.ts";
import type { BenchReport } from "../bench/report.ts";

const EXPECTED = [
  "audit.append sync=full batch=64",
  "limits.rate_limiter new_keys=100000 full=65536",
  "limits.replay_cache new_nonces=100000 full=65536",
  "memory.idle",
  "memory.idle+1000tls",
  "tls.connect_per_command c=1",
  "tls.connect_per_command c=16",
  "tls.pipelined conns=1 depth=16",
  "tls.pipelined conns=16 depth=16",
  "udp.signed_command outstanding=1",
  "udp.signed_command outstanding=16",
  "udp.signed_reading outstanding=1",
  "udp.signed_reading outstanding=16",
  "ftp.upload 16x1MiB clients=1",
  "ftps.upload 16x1MiB clients=8",
  "ftp.upload 2x16MiB clients=8",
  "ftps.upload 2x16MiB clients=1",
  "memory.peak_during_ftp",
];

Deno.test("deno task bench --quick prints the table and writes every figure as JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_test_" });
  try {
    const jsonPath = join(dir, "bench.json");
    const output = await new Deno.Command("deno", {
      args: ["task", "--quiet", "bench", "--quick", "--json", jsonPath],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `bench failed:\n${stdout}\n${stderr.slice(-2000)}`);

    const report = JSON.parse(await Deno.readTextFile(jsonPath)) as BenchReport;
    assert.equal(report.mode, "quick");
    assert.equal(report.machine.cpus, navigator.hardwareConcurrency);
    const names = report.rows.map((r) => r.workload);
    for (const name of EXPECTED) assert.ok(names.includes(name), `row ${name} is missing`);
    for (const r of report.rows) {
      assert.equal(r.error, undefined, `${r.workload}: ${r.error}`);
      assert.ok(typeof r.hub === "number" && Number.isFinite(r.hub) && r.hub > 0, r.workload);
      if (r.baseline !== null) {
        assert.ok(Number.isFinite(r.baseline) && r.baseline > 0, `${r.workload} baseline`);
        assert.ok(r.ratio !== null && Number.isFinite(r.ratio), `${r.workload} ratio`);
      }
      if (r.target !== null) assert.equal(typeof r.target.met, "boolean");
    }

    const [title, header, ...lines] = stdout.trim().split("\n");
    assert.match(title ?? "", /^Benchmark \(quick\)/);
    assert.match(header ?? "", /^workload\s+unit\s+hub\s+baseline\s+ratio\s+target/);
    for (const name of EXPECTED) {
      assert.ok(lines.some((l) => l.startsWith(name + " ")), `table line for ${name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
