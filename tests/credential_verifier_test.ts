import assert from "node:assert/strict";
import { join } from "node:path";
import { CredentialVerifier, setCredential } from "../persistence/credential_store.ts";
import { openDatabase } from "../persistence/database.ts";
import { HashQueue } from "../persistence/hash_queue.ts";

async function withVerifier(
  fn: (verifier: CredentialVerifier) => Promise<void>,
  hashQueue?: HashQueue,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "verifier_" });
  const db = openDatabase(join(dir, "hub.db"));
  try {
    setCredential(db, "admin", "token", "admin-token");
    setCredential(db, "panel", "token", "panel-token");
    await fn(new CredentialVerifier(db, hashQueue ? { hashQueue } : {}));
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("credential checks: 40 wrong secrets from one address do not throttle a first check from another", async () => {
  await withVerifier(async (verifier) => {
    const flood = Array.from(
      { length: 40 },
      (_, i) => verifier.check("admin", "token", `wrong-${i}`, "10.0.0.2"),
    );
    // Never verified before: this needs a full check while the flood's are queued.
    const other = await verifier.check("panel", "token", "panel-token", "10.0.0.1");
    const results = await Promise.all(flood);
    assert.equal(other, "ok");
    assert.ok(!results.includes("ok"));
    assert.ok(results.includes("throttled"), "one address gets only its share of the hashing");
  });
});

Deno.test("credential checks: hash work stays within the hub-wide bound and answers throttled beyond it", async () => {
  const queue = new HashQueue({ concurrency: 2, maxWaiting: 3, maxPerSource: 1 });
  await withVerifier(async (verifier) => {
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, verifier.hashLoad.running)), 1);
    try {
      const results = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => verifier.check("admin", "token", `wrong-${i}`, `10.0.0.${i}`),
        ),
      );
      assert.equal(results.filter((r) => r === "wrong").length, 5, "2 running + 3 waiting");
      assert.equal(results.filter((r) => r === "throttled").length, 5);
      assert.ok(most <= 2, `${most} hashes ran at once`);
      assert.equal(verifier.hashLoad.refused, 5);
    } finally {
      clearInterval(timer);
    }
  }, queue);
});

Deno.test("credential checks: a secret verified before passes at once while its address is throttled", async () => {
  const queue = new HashQueue({ concurrency: 1, maxWaiting: 0, maxPerSource: 1 });
  await withVerifier(async (verifier) => {
    assert.equal(await verifier.check("admin", "token", "admin-token", "10.0.0.2"), "ok");
    const busy = verifier.check("admin", "token", "wrong", "10.0.0.2");
    assert.equal(await verifier.check("admin", "token", "other", "10.0.0.2"), "throttled");
    assert.equal(await verifier.check("admin", "token", "admin-token", "10.0.0.2"), "ok");
    assert.equal(await busy, "wrong");
  }, queue);
});

Deno.test("credential checks: a reload forgets verified secrets, even one being checked then", async () => {
  await withVerifier(async (verifier) => {
    const checking = verifier.check("admin", "token", "admin-token");
    verifier.clearCache();
    assert.equal(await checking, "ok");
    // Not cached by the check that began before the reload: this one hashes again.
    const again = verifier.check("admin", "token", "admin-token");
    assert.equal(verifier.hashLoad.running + verifier.hashLoad.waiting, 1);
    assert.equal(await again, "ok");
  });
});

Deno.test("HashQueue starts waiting work round-robin by source", async () => {
  const queue = new HashQueue({ concurrency: 1, maxWaiting: 10, maxPerSource: 4 });
  const order: string[] = [];
  const gates: (() => void)[] = [];
  const job = (name: string) => () =>
    new Promise<string>((resolve) => {
      order.push(name);
      gates.push(() => resolve(name));
    });
  const all = [
    queue.run("a", job("a1")),
    queue.run("a", job("a2")),
    queue.run("a", job("a3")),
    queue.run("a", job("a4")),
    queue.run("b", job("b1")),
  ];
  assert.equal(await queue.run("a", job("a5")), HashQueue.THROTTLED, "a holds its four places");
  for (let i = 0; i < 5; i++) {
    while (gates.length === 0) await Promise.resolve();
    gates.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await Promise.all(all);
  assert.deepEqual(order, ["a1", "a2", "b1", "a3", "a4"]);
});

Deno.test("HashQueue starts a source with nothing running before a busy one's next job", async () => {
  const queue = new HashQueue({ concurrency: 2, maxWaiting: 10, maxPerSource: 4 });
  const order: string[] = [];
  const gates = new Map<string, () => void>();
  const job = (name: string) => () =>
    new Promise<string>((resolve) => {
      order.push(name);
      gates.set(name, () => resolve(name));
    });
  const all = ["a1", "a2", "a3", "a4"].map((n) => queue.run("a", job(n)));
  all.push(queue.run("b", job("b1")));
  assert.deepEqual(order, ["a1", "a2"]);
  gates.get("a1")!();
  await all[0];
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(order, ["a1", "a2", "b1"], "b (nothing running) goes before a3");
  for (const name of ["a2", "b1", "a3"]) {
    gates.get(name)!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  gates.get("a4")!();
  assert.deepEqual(await Promise.all(all), ["a1", "a2", "a3", "a4", "b1"]);
  assert.deepEqual(order, ["a1", "a2", "b1", "a3", "a4"]);
  assert.equal(queue.running + queue.waiting, 0);
});
