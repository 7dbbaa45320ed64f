/**
 * `deno task bench --quick` runs every workload against the hub and its
 * peers (Mosquitto, the seed-style Python servers, pyftpdlib), prints the
 * table and writes the same figures as JSON. Checks that the output parses,
 * every figure is present and every peer has a figure or a reason; never a
 * timing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./helpers/hub_fixture.ts";
import { type BenchReport, type BenchRow, cpuModelOf, progressLine } from "../bench/report.ts";

const EXPECTED = [
  "audit.append sync=full batch=64",
  "limits.rate_limiter new_keys=100000 full=65536",
  "limits.replay_cache new_nonces=100000 full=65536",
  "memory.idle",
  "memory.idle+1000tls",
  "tls.connect_per_command node-style c=1",
  "tls.connect_per_command node-style c=16",
  "tls.connect_per_command hub-client c=1",
  "tls.persistent 1x1",
  "tls.persistent 16x1",
  "tls.persistent 16x16",
  "tls.listener node:tls vs Deno.listenTls (bare, held open) c=1",
  "tls.ceiling bare node:tls echo, persistent 1x1",
  "tls.ceiling bare node:tls echo, persistent 16x16",
  "memory.after_load+5s",
  "udp.compat outstanding=16",
  "udp.signed_command outstanding=16",
  "udp.signed_reading outstanding=1",
  "ftp.upload 1MiB clients=1",
  "ftp.upload 16MiB clients=8",
  "ftp.upload 4KiB clients=8",
  "ftps.upload 4KiB clients=1",
  "ftps.upload 4KiB clients=1 client TCP_NODELAY",
  "memory.peak_during_ftp",
];

/** Rows compared with peers: each must name at least one peer. */
const PEER_ROWS = /^(tls\.connect_per_command|tls\.persistent|udp\.|ftp\.upload|ftps\.upload)/;

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
      if (PEER_ROWS.test(r.workload)) {
        assert.ok(r.peers.length > 0, `${r.workload} has no peer`);
        for (const p of r.peers) {
          // A peer either has its figure or says plainly why it has none.
          if (p.value === null) {
            assert.ok((p.unavailable ?? "").length > 0, `${r.workload}: ${p.name} gives no reason`);
          } else {
            assert.ok(Number.isFinite(p.value) && p.value > 0, `${r.workload}: ${p.name} figure`);
          }
        }
        const ran = r.peers.filter((p) => p.value !== null);
        if (ran.length) {
          assert.equal(r.baseline, Math.max(...ran.map((p) => p.value!)), `${r.workload} best`);
        } else assert.equal(r.ratio, null, `${r.workload}: no peer ran, so no ratio`);
      }
    }

    const [title, header, ...lines] = stdout.trim().split("\n");
    assert.match(title ?? "", /^Benchmark \(quick\)/);
    assert.match(
      header ?? "",
      /^workload\s+unit\s+hub\s+p50_ms\s+p99_ms\s+errors\s+best peer\s+peer\s+ratio\s+target/,
    );
    for (const name of EXPECTED) {
      assert.ok(lines.some((l) => l.startsWith(name + " ")), `table line for ${name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench progress lines round figures and the header names the CPU from /proc/cpuinfo", () => {
  const line = progressLine(
    {
      workload: "tls one-shot",
      unit: "cmd/s",
      hub: 1234.56789,
      baseline: 12.3456,
      ratio: 100,
      target: null,
      details: {},
      baselineName: "seed-style server",
      peers: [],
    } satisfies BenchRow,
  );
  assert.equal(line, "  tls one-shot: hub 1235 cmd/s, seed-style server 12.3");
  assert.equal(cpuModelOf("processor\t: 0\nmodel name\t: AMD EPYC\n"), "AMD EPYC");
  assert.equal(cpuModelOf("processor\t: 0\nHardware\t: BCM2835\n"), "BCM2835");
  assert.equal(cpuModelOf("processor\t: 0\nvendor_id\t: GenuineIntel\n"), "GenuineIntel");
  assert.equal(cpuModelOf("processor\t: 0\n"), undefined);
});
