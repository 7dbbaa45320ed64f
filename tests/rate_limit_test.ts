import assert from "node:assert/strict";
import { RateLimiter } from "../protocols/rate_limit.ts";
import { ConnectionCounter } from "../protocols/connection_counter.ts";

function fakeClock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

Deno.test("RateLimiter allows a burst, refuses beyond it, and refills with time", () => {
  const clock = fakeClock();
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 3, clock });
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.take("a")), [true, true, true, false]);
  assert.equal(limiter.refused, 1);
  assert.equal(limiter.retryAfterMs("a"), 100);
  assert.equal(limiter.take("b"), true, "keys are independent");
  clock.advance(100);
  assert.equal(limiter.take("a"), true);
  assert.equal(limiter.take("a"), false);
});

Deno.test("RateLimiter memory stays bounded by maxKeys", () => {
  const clock = fakeClock();
  const limiter = new RateLimiter({ ratePerSecond: 1, maxKeys: 100, clock });
  for (let i = 0; i < 10_000; i++) limiter.take(`k${i}`);
  assert.ok(limiter.size <= 100, `size ${limiter.size}`);
});

Deno.test("RateLimiter - a flood of 100 000 new keys keeps the map at its bound and a busy key limited", () => {
  const clock = fakeClock();
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2, clock }); // default bound 65 536
  assert.deepEqual([1, 2, 3].map(() => limiter.take("flooder")), [true, true, false]);
  for (let i = 0; i < 100_000; i++) {
    assert.equal(limiter.take(`spoofed-${i}`), true, "each new key starts with its burst");
    // The flooder keeps sending: the key in use is not the one forgotten to make room.
    if (i % 100 === 0) assert.equal(limiter.take("flooder"), false, `flooder let through at ${i}`);
  }
  assert.equal(limiter.size, 65_536);
  assert.equal(limiter.take("flooder"), false, "still limited after the flood");
  assert.deepEqual([1, 2, 3].map(() => limiter.take("spoofed-99999")), [true, false, false]);
  // The key used longest ago was forgotten: it starts again with a full bucket.
  assert.deepEqual([1, 2, 3].map(() => limiter.take("spoofed-0")), [true, true, false]);
});

Deno.test("ConnectionCounter enforces per-key and total limits and releases once", () => {
  const counter = new ConnectionCounter({ maxTotal: 3, maxPerKey: 2 });
  const a1 = counter.acquire("a");
  const a2 = counter.acquire("a");
  const a3 = counter.acquire("a");
  assert.ok(a1.ok && a2.ok);
  assert.deepEqual(a3, { ok: false, reason: "per_key", limit: 2 });
  const b1 = counter.acquire("b");
  assert.ok(b1.ok);
  assert.deepEqual(counter.acquire("c"), { ok: false, reason: "total", limit: 3 });
  a1.release();
  a1.release();
  assert.equal(counter.count("a"), 1);
  assert.equal(counter.total, 2);
  assert.ok(counter.acquire("c").ok);
  assert.deepEqual(counter.refused, { total: 1, perKey: 1 });
});
