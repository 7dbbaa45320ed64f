import assert from "node:assert/strict";
import { join } from "node:path";
import { startMemoryTrim, TRIM_CHECK_MS } from "../observability/memory_trim.ts";
import { startBenchHub } from "../bench/main.ts";
import { writeDevCertificate } from "../certs/dev_certificate.ts";
import { ManualClock } from "./helpers/manual_clock.ts";

Deno.test("a hub that goes quiet after work asks for one trim; a busy one asks for none", async () => {
  const clock = new ManualClock();
  let work = 0;
  let trims = 0;
  const trimmer = startMemoryTrim({
    activity: () => String(work),
    trim: () => trims++,
    timers: clock,
    checkMs: 1000,
    minGapMs: 5000,
  });
  try {
    clock.advance(1000); // the first quiet check trims start-up garbage
    assert.equal(trims, 1);
    for (let i = 0; i < 20; i++) {
      work++;
      clock.advance(1000);
    }
    assert.equal(trims, 1, "never while the counters move");
    clock.advance(1000);
    assert.equal(trims, 2, "once the hub is quiet after work");
    clock.advance(30_000);
    assert.equal(trims, 2, "not again while nothing happens");
    work++;
    clock.advance(1000);
    clock.advance(1000);
    assert.equal(trims, 3);
    work++;
    clock.advance(1000);
    clock.advance(1000);
    assert.equal(trims, 3, "at most once per minimum gap");
    clock.advance(3000);
    assert.equal(trims, 4, "then the pending trim happens");
    assert.equal(trimmer.trims, 4);
  } finally {
    await trimmer.close();
  }
});

Deno.test("the trim signal never ends the process, even where the runtime does not trim on it", async () => {
  // This test process runs without DENO_USR2_MEMORY_TRIM, so only the trimmer's own listener
  // stands between SIGUSR2 and its default action (ending the process).
  const clock = new ManualClock();
  const trimmer = startMemoryTrim({ activity: () => "same", timers: clock, checkMs: 1000 });
  try {
    clock.advance(1000);
    assert.equal(trimmer.trims, 1, "the signal was sent");
  } finally {
    // Closing right after the signal: the listener stays until the signal has been handled.
    await trimmer.close();
  }
  assert.ok(Deno.pid > 0, "still running");
});

Deno.test("a hub run as the launcher runs it survives its own trim signals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "trim_hub_" });
  const certPath = join(dir, "certs", "server.crt");
  const keyPath = join(dir, "certs", "server.key");
  await writeDevCertificate(certPath, keyPath);
  const hub = await startBenchHub(dir, { SSL_CERT: certPath, SSL_KEY: keyPath });
  try {
    // Past the first check, where the quiet hub trims its start-up garbage.
    await new Promise((resolve) => setTimeout(resolve, TRIM_CHECK_MS + 1500));
    const figures = await hub.memory();
    assert.ok(figures.rssMiB > 0, "the hub still answers");
  } finally {
    assert.equal(await hub.stop(), 0, "and stops cleanly");
    await Deno.remove(dir, { recursive: true });
  }
});
